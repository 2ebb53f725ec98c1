import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runEncodeCell } from './cell.ts';
import { liveProcesses, startProcess } from '../runner/index.ts';
import { isPublishing, startRtmpServer } from './rtmp.ts';
import { makeScenario, pidsMatching, probeVideo, workDir } from './test-helpers.ts';

describe('startRtmpServer (real nginx-rtmp)', () => {
  it('starts on loopback with its own prefix, sees a publisher, and stops cleanly', async () => {
    const dir = workDir('rtmp');
    const server = await startRtmpServer({ workDir: dir });
    try {
      const conf = readFileSync(join(dir, 'nginx.conf'), 'utf8');
      expect(conf).toContain(`listen 127.0.0.1:${server.port};`);
      expect(conf).toContain('idle_streams off;');
      expect(pidsMatching(dir).length).toBeGreaterThanOrEqual(1);
      expect(isPublishing(await server.stat(), 'cam')).toBe(false);
      const pub = startProcess('ffmpeg', [
        '-hide_banner',
        '-nostats',
        '-re',
        '-f',
        'lavfi',
        '-i',
        'testsrc2=size=160x120:rate=10:duration=20',
        '-c:v',
        'libx264',
        '-preset',
        'ultrafast',
        '-f',
        'flv',
        server.url('cam'),
      ]);
      await server.waitPublishing('cam', 10_000);
      expect(isPublishing(await server.stat(), 'cam')).toBe(true);
      await pub.stop();
      await expect(server.waitPublishing('nobody', 500)).rejects.toThrow(/"nobody" not publishing/);
    } finally {
      await server.stop();
    }
    expect(pidsMatching(dir)).toEqual([]);
  });

  it('refuses a config nginx rejects, naming the file and the fix', async () => {
    const dir = workDir('rtmp-bad');
    await expect(startRtmpServer({ workDir: dir, modulePath: '/nonexistent/ngx_rtmp_module.so' })).rejects.toThrow(
      /nginx config check failed .*nginx\.conf.*libnginx-mod-rtmp/s,
    );
  });
});

describe('runEncodeCell, live mode (real nginx-rtmp + ffmpeg)', () => {
  it('pulls and encodes the requested duration (within 10%) and leaves no process behind', async () => {
    const dir = workDir('live');
    let opened = 0;
    const scenario = makeScenario({
      mode: 'live',
      streams: 2,
      warmupS: 1,
      durationS: 4,
      rungs: [
        ['320x240', 25],
        ['160x120', 25],
      ],
    });
    const r = await runEncodeCell(scenario, 'libx264', { workDir: dir, onWindowOpen: () => opened++ });
    expect(r.error).toBeNull();
    expect(r.ok).toBe(true);
    expect(opened).toBe(1);
    for (const st of r.streams) {
      expect(st.argv.join(' ')).toMatch(/-i rtmp:\/\/127\.0\.0\.1:\d+\/live\//);
      expect(st.publisher?.argv.join(' ')).toMatch(/-re -i \S+live-source\.flv -map 0:v -c copy -f flv rtmp:/);
      for (const o of st.outputs) {
        const p = probeVideo(o.path);
        expect(Math.abs(p.durationS - 5) / 5).toBeLessThan(0.1);
      }
      expect(st.atWindowOpen!.outTimeS).toBeGreaterThanOrEqual(1);
    }
    // real time: per-stream speed close to 1
    expect(r.speed!).toBeGreaterThan(0.8);
    expect(r.speed!).toBeLessThan(1.3);
    expect(pidsMatching(dir)).toEqual([]);
    expect(liveProcesses()).toEqual([]);
  });

  it('an abort in the middle stops publishers, pullers and nginx', async () => {
    const dir = workDir('live-abort');
    const ac = new AbortController();
    const scenario = makeScenario({ mode: 'live', streams: 1, durationS: 20 });
    const running = runEncodeCell(scenario, 'libx264', { workDir: dir, signal: ac.signal });
    const t0 = Date.now();
    while (pidsMatching(join(dir, 's0-r0')).length === 0 && Date.now() - t0 < 15_000)
      await new Promise((r) => setTimeout(r, 100));
    expect(pidsMatching(dir).length).toBe(3); // nginx master (its prefix), publisher (source file), puller (outputs)
    expect(liveProcesses().length).toBe(3);
    ac.abort();
    const r = await running;
    expect(r).toMatchObject({ ok: false, aborted: true });
    expect(Date.now() - t0).toBeLessThan(25_000);
    expect(pidsMatching(dir)).toEqual([]);
    expect(liveProcesses()).toEqual([]);
  });
});
