import { describe, expect, it } from 'vitest';
import { createMasterLogger } from './log.ts';

describe('master log (pino, as Fastify logs)', () => {
  it('writes JSON lines with ts, the level as a word, the service and the fields', () => {
    const lines: string[] = [];
    createMasterLogger({ write: (l) => lines.push(l), level: 'info' }).info(
      { job: 'j-1', node: 'box-a' },
      'job claimed',
    );
    const doc = JSON.parse(lines[0]);
    expect(doc).toMatchObject({
      level: 'info',
      service: 'ffwatt-master',
      job: 'j-1',
      node: 'box-a',
      msg: 'job claimed',
    });
    expect(new Date(doc.ts).toISOString()).toBe(doc.ts);
  });

  it('writes readable lines with --log-format text, the level only when not info', () => {
    const lines: string[] = [];
    const log = createMasterLogger({ format: 'text', write: (l) => lines.push(l), level: 'info' });
    log.info({ campaign: 'c-1', jobs: 3 }, 'campaign canceled');
    log.warn({ requeued: ['j-2'] }, 'reaped');
    log.debug('not shown at info');
    expect(lines).toEqual(['campaign canceled campaign=c-1 jobs=3', 'warn: reaped requeued=["j-2"]']);
  });
});
