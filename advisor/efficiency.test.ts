import { describe, expect, it } from 'vitest';
import { efficiencyScore, explainEfficiency, type EfficiencyRun } from './efficiency.ts';
import type { RunRecord } from '../core/types.ts';

function run(opts: {
  vmaf?: number | null;
  psnr?: number | null;
  net?: number | null;
  gross?: number;
  content?: string;
  status?: RunRecord['status'];
}): RunRecord {
  return {
    jobId: 'j',
    attempt: 1,
    nodeId: 'n',
    status: opts.status ?? 'succeeded',
    exitCode: 0,
    signal: null,
    error: null,
    stderrTail: '',
    startedAt: '',
    endedAt: '',
    wallS: 1,
    mediaSeconds: 60,
    frames: 1,
    outputBytes: 1,
    bitrateBps: null,
    fps: null,
    speed: null,
    droppedFrames: 0,
    dupFrames: 0,
    flags: [],
    energy: {
      source: 'rapl',
      zones: [],
      grossJ: opts.gross ?? 100,
      idleW: null,
      netJ: opts.net ?? null,
      avgW: 1,
      peakW: 1,
      windowS: 1,
      jPerEncodedMinute: opts.gross ?? 100,
      netJPerEncodedMinute: opts.net === undefined ? 50 : opts.net,
      jPerFrame: null,
      jPerMegapixel: null,
    },
    quality: {
      outputs: [
        {
          rung: 0,
          psnrY: null,
          psnrAvg: opts.psnr ?? null,
          ssim: null,
          vmaf: opts.vmaf == null ? null : { mean: opts.vmaf, harmonicMean: opts.vmaf, p1: opts.vmaf, min: opts.vmaf },
        },
      ],
      recipe: {},
    },
    provenance: {
      ffmpegVersion: '5.1',
      ffmpegBuildconfHash: '',
      argv: [],
      inputDescription: opts.content ?? 'testsrc2',
      inputHash: null,
      kernel: '',
      cpuModel: 'x',
      cores: 2,
      gpu: null,
      governor: null,
      turbo: null,
      meters: [],
      encoder: 'libx264',
    },
  };
}
const at = (record: RunRecord, width = 640, height = 360): EfficiencyRun => ({ record, width, height });

describe('efficiencyScore', () => {
  it('is 1 for the best run and the ratio of quality per joule for the others', () => {
    const best = at(run({ vmaf: 90, net: 30 })); // 3 points per J/min
    const half = at(run({ vmaf: 75, net: 50 })); // 1.5
    const peers = [best, half];
    expect(efficiencyScore(best, peers)).toBe(1);
    expect(efficiencyScore(half, peers)).toBeCloseTo(0.5, 12);
  });

  it('compares only the same content and resolution', () => {
    const mine = at(run({ vmaf: 80, net: 40 }));
    const otherRes = at(run({ vmaf: 99, net: 1 }), 320, 180);
    const otherContent = at(run({ vmaf: 99, net: 1, content: 'football.mp4' }));
    const d = explainEfficiency(mine, [mine, otherRes, otherContent]);
    expect(d.score).toBe(1);
    expect(d.peersCompared).toBe(1);
  });

  it('falls back to PSNR and gross energy, comparing like with like', () => {
    const a = at(run({ vmaf: null, psnr: 40, net: null, gross: 100 }));
    const b = at(run({ vmaf: null, psnr: 40, net: null, gross: 80 }));
    const vmafPeer = at(run({ vmaf: 99, net: 1 }));
    const d = explainEfficiency(a, [a, b, vmafPeer]);
    expect(d).toMatchObject({ metric: 'psnr', basis: 'gross', peersCompared: 2 });
    expect(d.score).toBeCloseTo(0.8, 12);
  });

  it('gives no score (null + reason) without quality or energy, never 0', () => {
    expect(explainEfficiency(at(run({ vmaf: null, psnr: null })), [])).toEqual({
      score: null,
      reason: 'no quality score (VMAF or PSNR) for the main output',
    });
    expect(efficiencyScore(at(run({ status: 'failed', vmaf: 90 })), [])).toBeNull();
    const noEnergy = run({ vmaf: 90 });
    noEnergy.energy = null;
    expect(explainEfficiency(at(noEnergy), []).reason).toBe('no energy per encoded minute');
  });
});
