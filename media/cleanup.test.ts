// Killing a process that runs a cell must leave no ffmpeg or nginx behind (process.ts registry).
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { pidsMatching, workDir } from './test-helpers.ts';

const script = fileURLToPath(new URL('../test/fixtures/ffmpeg/run-cell.mts', import.meta.url));

async function killMidCell(mode: 'file' | 'live', sig: 'SIGINT' | 'SIGTERM') {
  const dir = workDir(`cleanup-${mode}`);
  const child = spawn(process.execPath, ['--import', 'tsx', script, dir, mode], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const exited = new Promise<{ code: number | null; signal: string | null }>((res) =>
    child.on('exit', (code, signal) => res({ code, signal })),
  );
  await new Promise<void>((res, rej) => {
    const t = setTimeout(() => rej(new Error(`cell never opened its window: ${err}`)), 30_000);
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      if (out.includes('WINDOW')) {
        clearTimeout(t);
        res();
      }
    });
  });
  // Stream names carry the runner's pid: this finds the publishers too (live mode).
  const ours = () =>
    [...new Set([...pidsMatching(dir), ...pidsMatching(`ffwatt-${child.pid}-`)])].filter((p) => p !== child.pid);
  const before = ours();
  child.kill(sig);
  const t0 = Date.now();
  const how = await exited;
  const after = ours();
  return { before, after, how, seconds: (Date.now() - t0) / 1000 };
}

describe('killing a process mid-cell leaves nothing behind', () => {
  it('SIGTERM during a 2-stream file cell', async () => {
    const r = await killMidCell('file', 'SIGTERM');
    expect(r.before.length).toBe(2); // two ffmpeg encoders
    expect(r.how.signal).toBe('SIGTERM');
    expect(r.seconds).toBeLessThan(5);
    expect(r.after).toEqual([]);
  });

  it('SIGINT during a 2-stream live cell (nginx, publishers, pullers)', async () => {
    const r = await killMidCell('live', 'SIGINT');
    expect(r.before.length).toBe(5); // nginx master + 2 publishers + 2 pullers
    expect(r.how.signal).toBe('SIGINT');
    expect(r.seconds).toBeLessThan(5);
    expect(r.after).toEqual([]);
  });
});
