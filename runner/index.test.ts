import { describe, expect, it } from 'vitest';

describe('runner/index.ts', () => {
  it('exports exactly the API other parts call', async () => {
    const api = await import('./index.ts');
    expect(Object.keys(api).sort()).toEqual(
      [
        'ProcessResult',
        'StderrTail',
        'liveProcesses',
        'runProcess',
        'startProcess',
        'stopAllProcesses',
        'stoppingAllProcesses',
      ].sort(),
    );
  });
});
