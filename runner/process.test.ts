import { mkdirSync, mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ProcessResult, StderrTail, liveProcesses, runProcess, startProcess } from './index.ts';

// Helpers run through the runner itself: the runner imports nothing of ffwatt, nor do its tests.
function workDir(name: string): string {
  const base = join(process.cwd(), 'test', '.work');
  mkdirSync(base, { recursive: true });
  return mkdtempSync(join(base, `${name}-`));
}

/** Pids of live (not zombie) processes whose command line contains `marker`. */
async function pidsMatching(marker: string): Promise<number[]> {
  const { stdout } = await runProcess('ps', ['-eo', 'pid=,stat=,args='], { captureStdout: true });
  return stdout
    .split('\n')
    .filter((l) => l.includes(marker) && !l.includes('ps -eo'))
    .map((l) => l.trim().split(/\s+/))
    .filter(([, stat]) => !stat.startsWith('Z'))
    .map(([pid]) => Number(pid));
}

/** Frames of the first video stream, counted by decoding (ffprobe). */
async function countFrames(path: string): Promise<number> {
  const { stdout } = await runProcess(
    'ffprobe',
    [
      '-v',
      'error',
      '-count_frames',
      '-select_streams',
      'v:0',
      '-show_entries',
      'stream=nb_read_frames',
      '-of',
      'csv=p=0',
      path,
    ],
    { captureStdout: true },
  );
  return Number(stdout.trim());
}

describe('runProcess', () => {
  it('returns a result with stdout, exit code and duration', async () => {
    const r = await runProcess('sh', ['-c', 'echo hello; echo warn >&2'], { captureStdout: true });
    expect(r.ok).toBe(true);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe('hello\n');
    expect(r.stderrTail).toBe('warn');
    expect(r.durationS).toBeGreaterThan(0);
    expect(r.pid).toBeGreaterThan(0);
  });

  it('throws the same result object on failure, or returns it with nothrow', async () => {
    const err = await runProcess('sh', ['-c', 'echo broken option >&2; exit 3']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProcessResult);
    expect(err).toMatchObject({ exitCode: 3, signal: null, stderrTail: 'broken option' });
    expect((err as Error).message).toBe('sh exited with code 3: broken option');
    const r = await runProcess('sh', ['-c', 'exit 4'], { nothrow: true });
    expect(r.ok).toBe(false);
    expect(r.exitCode).toBe(4);
  });

  it('reports a missing binary as a spawn error', async () => {
    const r = await runProcess('/nonexistent/ffmpeg', [], { nothrow: true });
    expect(r.ok).toBe(false);
    expect(r.spawnError).toMatch(/ENOENT/);
    expect(r.message).toMatch(/could not be started/);
  });

  it('keeps real ffmpeg stderr errors in the tail', async () => {
    const r = await runProcess(
      'ffmpeg',
      [
        '-hide_banner',
        '-f',
        'lavfi',
        '-i',
        'testsrc2=duration=1',
        '-c:v',
        'libx264',
        '-nosuchoption',
        '1',
        '-f',
        'null',
        '-',
      ],
      { nothrow: true },
    );
    expect(r.exitCode).not.toBe(0);
    expect(r.stderrTail).toMatch(/nosuchoption/);
  });
});

describe('StderrTail', () => {
  it('drops stats/progress lines and keeps only the last bytes', () => {
    const t = new StderrTail(64);
    t.push('first line that will be pushed out\nframe=  12 fps=0.0 q=0.0 size=0kB\r');
    t.push('frame=  24 fps=0.0\rprogress=continue\nError while opening enc');
    t.push('oder\nConversion failed!\n');
    expect(t.text()).toBe('Error while opening encoder\nConversion failed!');
  });
});

describe('stopping', () => {
  it('aborting a realtime ffmpeg encode stops it within seconds with a playable output', async () => {
    const out = join(workDir('proc'), 'o.mp4');
    const ac = new AbortController();
    const p = startProcess(
      'ffmpeg',
      [
        '-hide_banner',
        '-nostats',
        '-re',
        '-f',
        'lavfi',
        '-i',
        'testsrc2=size=160x120:rate=10:duration=60',
        '-c:v',
        'libx264',
        '-preset',
        'ultrafast',
        '-y',
        out,
      ],
      {
        signal: ac.signal,
        stopWith: 'q',
      },
    );
    await new Promise((r) => setTimeout(r, 1500));
    const t = Date.now();
    ac.abort();
    const r = await p.done;
    expect(Date.now() - t).toBeLessThan(3000);
    expect(r.stopped).toBe(true);
    expect(r.exitCode).toBe(0); // 'q' lets ffmpeg write the trailer
    expect(await countFrames(out)).toBeGreaterThan(5);
    expect(liveProcesses().find((x) => x.pid === p.pid)).toBeUndefined();
  });

  it('escalates to SIGKILL and kills the whole process group', async () => {
    const dur = `30.${process.pid}${Date.now() % 1000}`; // unique: identifies our processes
    // The shell ignores SIGTERM and has a child that would outlive it.
    const p = startProcess('sh', ['-c', `trap '' TERM; sleep ${dur} & sleep ${dur}; wait`], { graceMs: 300 });
    await new Promise((r) => setTimeout(r, 300));
    expect((await pidsMatching(`sleep ${dur}`)).length).toBe(3); // sh + 2 sleeps
    const r = await p.stop();
    expect(r.signal).toBe('SIGKILL');
    expect(r.durationS).toBeLessThan(3);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(await pidsMatching(`sleep ${dur}`)).toEqual([]);
  });

  it('an abort signal stops the whole process group (shell and its child)', async () => {
    const dur = `31.${process.pid}${Date.now() % 1000}`;
    const ac = new AbortController();
    const p = startProcess('sh', ['-c', `sleep ${dur} & wait`], { signal: ac.signal, graceMs: 300 });
    await new Promise((r) => setTimeout(r, 300));
    expect((await pidsMatching(`sleep ${dur}`)).length).toBe(2); // sh + sleep
    ac.abort();
    const r = await p.done;
    expect(r).toMatchObject({ stopped: true, ok: false, signal: 'SIGTERM' });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(await pidsMatching(`sleep ${dur}`)).toEqual([]);
    expect(liveProcesses().find((x) => x.pid === p.pid)).toBeUndefined();
  });

  it('settles soon after the exit even when a grandchild keeps the pipes open', async () => {
    const dur = `32.${process.pid}${Date.now() % 1000}`;
    const p = startProcess('sh', ['-c', `sleep ${dur} & echo started >&2`]);
    const r = await p.done;
    try {
      expect(r).toMatchObject({ ok: true, exitCode: 0, stderrTail: 'started' });
      expect(r.durationS).toBeLessThan(10);
      expect((await pidsMatching(`sleep ${dur}`)).length).toBe(1); // the grandchild still runs, holding stderr
    } finally {
      process.kill(-p.pid!, 'SIGKILL');
    }
  });

  it('does not start when already aborted', async () => {
    const ac = new AbortController();
    ac.abort();
    const r = await startProcess('sleep', ['10'], { signal: ac.signal }).done;
    expect(r).toMatchObject({ pid: null, stopped: true, ok: false });
  });
});
