import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { isLegacyBatch, parseMatrix } from './index.ts';

const example = fileURLToPath(new URL('../matrices/legacy-example.json', import.meta.url));
const legacy = (scenarios: unknown[]) => parseMatrix(JSON.stringify({ scenarios }, null, 2), 'seed-batch.json');

describe('isLegacyBatch', () => {
  it('detects {"scenarios": [{"type": …}]} and nothing else', () => {
    expect(isLegacyBatch({ scenarios: [{ type: 'multi' }] })).toBe(true);
    expect(isLegacyBatch({ scenarios: [{ type: 'baseline' }, { codec: 'h264' }] })).toBe(true);
    expect(isLegacyBatch({ name: 'x', scenarios: [{ type: 'multi' }] })).toBe(false);
    expect(isLegacyBatch({ scenarios: [{ codec: 'h264' }] })).toBe(false);
    expect(isLegacyBatch({ scenarios: 'x' })).toBe(false);
    expect(isLegacyBatch([{ type: 'multi' }])).toBe(false);
    expect(isLegacyBatch(null)).toBe(false);
  });
});

describe('legacy batch-matrix conversion', () => {
  it('converts the example: baseline → idle + cooldown, multi → concurrent live streams, single → ladder', () => {
    const plan = parseMatrix(readFileSync(example, 'utf8'), example);
    expect(plan.matrixFormat).toBe('legacy-batch');
    expect(plan.name).toBe('legacy-example');
    expect(plan.idleBaselineS).toBe(5);
    expect(plan.cooldownS).toBe(1);
    expect(plan.repetitions).toEqual({ min: 1, max: 1, ciHalfwidthPct: 5 });
    const input = { kind: 'synthetic', source: 'testsrc2', resolution: { width: 640, height: 360 }, fps: 30 };
    expect(plan.scenarios.map(({ key: _k, ...s }) => s)).toEqual([
      {
        label: 'one-stream: live h264/veryfast 800k 360p30 x1',
        mode: 'live',
        input,
        codec: 'h264',
        preset: 'veryfast',
        rate: { kind: 'bitrate', value: 800_000 },
        streams: 1,
        warmupS: 1,
        durationS: 4,
        outputs: [{ resolution: { width: 640, height: 360 }, fps: 30 }],
        origin: 'scenarios[1]',
      },
      {
        label: 'two-streams: live h264/veryfast 800k 360p30 x2',
        mode: 'live',
        input,
        codec: 'h264',
        preset: 'veryfast',
        rate: { kind: 'bitrate', value: 800_000 },
        streams: 2,
        warmupS: 1,
        durationS: 4,
        outputs: [{ resolution: { width: 640, height: 360 }, fps: 30 }],
        origin: 'scenarios[2]',
      },
      {
        label: 'ladder: live h264/veryfast 1M 360p30+270p30+180p15 x1',
        mode: 'live',
        input,
        codec: 'h264',
        preset: 'veryfast',
        rate: { kind: 'bitrate', value: 1_000_000 },
        streams: 1,
        warmupS: 1,
        durationS: 4,
        outputs: [
          { resolution: { width: 640, height: 360 }, fps: 30 },
          { resolution: { width: 480, height: 270 }, fps: 30 },
          { resolution: { width: 320, height: 180 }, fps: 15 },
        ],
        origin: 'scenarios[3]',
      },
    ]);
  });

  it('takes an optional preset, the longest cooldown, rung fps from the entry; no baseline means no idle run', () => {
    const plan = legacy([
      {
        type: 'multi',
        count: 3,
        bitrate: 2_000_000,
        resolution: '1280x720',
        fps: 25,
        duration: 10,
        cooldown: 2,
        preset: 'ultrafast',
      },
      {
        type: 'single',
        bitrate: '3M',
        resolution: '1280x720',
        fps: 25,
        duration: 10,
        cooldown: 7,
        outputs: [{ resolution: '1280x720' }, { resolution: '640x360' }],
      },
    ]);
    expect(plan.idleBaselineS).toBe(0);
    expect(plan.cooldownS).toBe(7);
    expect(plan.scenarios[0]).toMatchObject({
      preset: 'ultrafast',
      streams: 3,
      warmupS: 0,
      rate: { kind: 'bitrate', value: 2e6 },
    });
    expect(plan.scenarios[0].label).toBe('live h264/ultrafast 2M 720p25 x3');
    expect(plan.scenarios[1].outputs.map((o) => o.fps)).toEqual([25, 25]);
    expect(plan.name).toBe('seed-batch');
  });

  it('uses the native default cooldown when no entry has one', () => {
    expect(
      legacy([{ type: 'multi', count: 1, bitrate: '1M', resolution: '640x360', fps: 30, duration: 3 }]).cooldownS,
    ).toBe(5);
  });

  it('refuses a file with only a baseline', () => {
    expect(() => legacy([{ type: 'baseline', duration: 5 }])).toThrow(
      'seed-batch.json:2: scenarios: no multi or single entry: nothing to run — fix: add a {"type": "multi", …} or {"type": "single", …} entry',
    );
  });

  it('names the line of a malformed bitrate', () => {
    expect(() =>
      legacy([{ type: 'multi', count: 1, bitrate: '1X', resolution: '640x360', fps: 30, duration: 3 }]),
    ).toThrow("seed-batch.json:6: scenarios[0].bitrate: bitrate '1X' is malformed");
  });
});
