import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runEncodeCell } from './cell.ts';
import type { ProgressSample } from './progress.ts';
import { liveProcesses } from '../runner/index.ts';
import { makeScenario, pidsMatching, probeVideo, res, workDir } from './test-helpers.ts';

describe('runEncodeCell, file mode (real ffmpeg)', () => {
  it('one stream, no warm-up: window opens at spawn, all media inside it', async () => {
    const dir = workDir('cell1');
    let opened = 0;
    let closed = 0;
    const samples: ProgressSample[] = [];
    const r = await runEncodeCell(makeScenario({ durationS: 2 }), 'libx264', {
      workDir: dir,
      onWindowOpen: () => opened++,
      onWindowClose: () => closed++,
      onProgress: (_i, s) => samples.push(s),
    });
    expect(r.error).toBeNull();
    expect(r.ok).toBe(true);
    expect(opened).toBe(1);
    expect(closed).toBe(1);
    expect(r.streams[0].atWindowOpen).toBeNull();
    expect(r.streams[0].exitCode).toBe(0);
    expect(r.streams[0].final?.end).toBe(true);
    expect(samples.at(-1)).toEqual(r.streams[0].final);
    expect(r.mediaSecondsInWindow).toBeCloseTo(2, 9); // 50 frames × 1/25 s
    expect(r.framesInWindow).toBe(50);
    const out = r.streams[0].outputs[0];
    expect(out.bytes).toBeGreaterThan(1000);
    expect(r.outputBytes).toBe(out.bytes);
    expect(probeVideo(out.path)).toMatchObject({ width: 320, height: 240, frames: 50 });
    expect(r.bitrateBps).toBeCloseTo((out.bytes * 8) / 2, 6);
    expect(r.speed).toBeGreaterThan(0);
    expect(r.fps).toBeGreaterThan(0);
    expect(r).toMatchObject({ exitCode: 0, signal: null, flags: [] });
    expect(r.argv).toEqual([r.streams[0].argv]);
    // No block marks an edge here, so progress comes at FFmpeg's default period (media/ffmpeg-args.ts).
    const argv = r.streams[0].argv;
    expect(argv[argv.indexOf('-stats_period') + 1]).toBe('0.5');
  });

  it('two concurrent streams with warm-up and a 2-rung ladder: window opens once all are past warm-up', async () => {
    const dir = workDir('cell2');
    const latest: Array<ProgressSample | null> = [null, null];
    let atOpen: Array<ProgressSample | null> | null = null;
    const scenario = makeScenario({
      codec: 'hevc',
      preset: 'medium',
      streams: 2,
      warmupS: 1,
      durationS: 2,
      rungs: [
        ['320x240', 25],
        ['160x120', 25],
      ],
    });
    const r = await runEncodeCell(scenario, 'libx265', {
      workDir: dir,
      onProgress: (i, s) => (latest[i] = s),
      onWindowOpen: () => (atOpen = [...latest]),
    });
    expect(r.ok).toBe(true);
    expect(atOpen).not.toBeNull();
    for (let i = 0; i < 2; i++) {
      const st = r.streams[i];
      expect(st.atWindowOpen!.outTimeS).toBeGreaterThanOrEqual(1);
      expect(st.atWindowOpen).toEqual(atOpen![i]);
      expect(st.outputs.map((o) => o.bytes > 0)).toEqual([true, true]);
      expect(probeVideo(st.outputs[1].path)).toMatchObject({ width: 160, height: 120, codec: 'hevc', frames: 75 });
    }
    const framesInWindow = r.streams.reduce((a, s) => a + s.final!.frame - s.atWindowOpen!.frame, 0);
    expect(r.framesInWindow).toBe(framesInWindow);
    expect(r.mediaSecondsInWindow).toBeCloseTo(framesInWindow / 25, 9);
    expect(r.mediaSecondsInWindow).toBeLessThanOrEqual(4.01);
    expect(r.windowS).toBeGreaterThan(0);
    // The window opens on a progress block: they come every 50 ms while it waits.
    const argv = r.streams[0].argv;
    expect(argv[argv.indexOf('-stats_period') + 1]).toBe('0.05');
  });

  // Media time is frames × frame duration of the main rung, not FFmpeg's out_time (the last frame's
  // start, one frame short). The frames are counted in the real output by ffprobe.
  for (const [label, inputFps, rungFps, frames] of [
    ['24', 24, 24, 48],
    ['25', 25, 25, 50],
    ['30000/1001', 30000 / 1001, 30000 / 1001, 60],
    ['30', 30, 30, 60],
    ['60', 60, 60, 120],
    ['a 30 fps rung of a 60 fps source', 60, 30, 60],
  ] as const) {
    it(`counts media seconds as frames × frame duration at ${label}`, async () => {
      const size = res('160x120');
      const scenario = makeScenario({
        durationS: 2,
        input: { kind: 'synthetic', source: 'testsrc2', resolution: size, fps: inputFps },
        outputs: [{ resolution: size, fps: rungFps }],
      });
      const r = await runEncodeCell(scenario, 'libx264', { workDir: workDir('cell-rate') });
      expect(r.ok).toBe(true);
      const counted = probeVideo(r.streams[0].outputs[0].path).frames;
      expect(counted).toBe(frames);
      expect(r.framesInWindow).toBe(counted);
      expect(r.mediaSecondsInWindow).toBeCloseTo(counted / rungFps, 9);
      if (Number.isInteger(rungFps)) expect(r.mediaSecondsInWindow).toBeCloseTo(2, 9);
      else expect(r.mediaSecondsInWindow).toBeCloseTo(2.002, 9); // 60 × 1001/30000 s
      // out_time stops at the last frame's start: one frame short.
      expect(r.mediaSecondsInWindow - r.streams[0].final!.outTimeS).toBeCloseTo(1 / rungFps, 2); // Matroska keeps ms
    });
  }

  it('sums media seconds per stream', async () => {
    const r = await runEncodeCell(makeScenario({ streams: 2, durationS: 2 }), 'libx264', {
      workDir: workDir('cell-streams'),
    });
    expect(r.ok).toBe(true);
    expect(r.framesInWindow).toBe(100);
    expect(r.mediaSecondsInWindow).toBeCloseTo(4, 9); // 2 streams × 50 frames × 1/25 s
  });

  it('flags a window that opened only when a stream had already ended', async () => {
    const r = await runEncodeCell(
      makeScenario({
        warmupS: 1,
        durationS: 0.2,
        input: { kind: 'synthetic', source: 'testsrc2', resolution: res('160x120'), fps: 25 },
      }),
      'libx264',
      {
        workDir: workDir('cell-short'),
      },
    );
    expect(r.ok).toBe(true);
    expect(r.flags).toContain('window-opened-after-stream-end');
    expect(r.mediaSecondsInWindow).toBe(0);
  });

  it('a bad encoder option fails the cell with exit code and stderr tail, without throwing', async () => {
    const dir = workDir('cell-bad');
    const scenario = makeScenario({ streams: 2, durationS: 2, encoderOptions: { profile: 'nosuchprofile' } });
    const r = await runEncodeCell(scenario, 'libx264', { workDir: dir });
    expect(r.ok).toBe(false);
    expect(r.aborted).toBe(false);
    expect(r.streams[0].exitCode).not.toBe(0);
    expect(r.streams[0].exitCode).not.toBeNull();
    expect(r.streams[0].stderrTail).toMatch(/nosuchprofile/);
    expect(r.error).toMatch(/stream \d: ffmpeg exited with code \d+: .*/);
    expect(r.exitCode).toBe(r.streams.find((s) => s.exitCode !== 0)!.exitCode);
    expect(r.stderrTail).toMatch(/nosuchprofile/);
    expect(r.argv).toHaveLength(2);
  });

  it('aborting stops every ffmpeg of the cell within seconds', async () => {
    const dir = workDir('cell-abort');
    const scenario = makeScenario({
      codec: 'hevc',
      preset: 'slow',
      streams: 2,
      durationS: 120,
      input: { kind: 'synthetic', source: 'testsrc2', resolution: res('640x360'), fps: 25 },
    });
    const ac = new AbortController();
    const started = runEncodeCell(scenario, 'libx265', { workDir: dir, signal: ac.signal });
    await new Promise((r) => setTimeout(r, 1500));
    expect(pidsMatching(dir).length).toBe(2);
    const t = Date.now();
    ac.abort();
    const r = await started;
    expect(Date.now() - t).toBeLessThan(5000);
    expect(r).toMatchObject({ ok: false, aborted: true, error: 'aborted' });
    expect(pidsMatching(dir)).toEqual([]);
    expect(liveProcesses()).toEqual([]);
    expect(existsSync(r.streams[0].outputs[0].path)).toBe(true);
  });
});
