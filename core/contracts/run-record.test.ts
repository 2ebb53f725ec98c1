import { describe, expect, it } from 'vitest';
import { RunRecordSchema } from './run-record.ts';

describe('run record times', () => {
  const zone = {
    meter: 'estimate',
    zone: 'cpu',
    source: 'estimate',
    role: 'total',
    grossJ: 12,
    idleW: null,
    netJ: null,
    avgW: 12,
    peakW: 14,
  };
  const record = {
    jobId: '0f8fad5b-d9cb-469f-a165-70867728950e',
    attempt: 1,
    nodeId: 'agent-1',
    status: 'succeeded',
    exitCode: 0,
    signal: null,
    error: null,
    stderrTail: '',
    startedAt: '2026-12-03T17:10:00.000Z',
    endedAt: '2026-12-03T17:10:01.000Z',
    wallS: 1,
    mediaSeconds: 1,
    frames: 30,
    outputBytes: 20_000,
    bitrateBps: 160_000,
    fps: 30,
    speed: 1,
    droppedFrames: 0,
    dupFrames: 0,
    energy: {
      source: 'estimate',
      zones: [zone],
      grossJ: 12,
      idleW: null,
      netJ: null,
      avgW: 12,
      peakW: 14,
      windowS: 1,
      jPerEncodedMinute: 720,
      netJPerEncodedMinute: null,
      jPerFrame: 0.4,
      jPerMegapixel: 5.2,
    },
    quality: null,
    flags: ['estimated'],
    provenance: { ffmpegVersion: '5.1.6', encoder: 'libx264', argv: [] },
  };
  const withStart = (startedAt: string) => RunRecordSchema.safeParse({ ...record, startedAt });

  it('takes UTC ISO 8601 times as Date.toISOString writes them, with or without fractions of a second', () => {
    expect(RunRecordSchema.safeParse(record).success).toBe(true);
    for (const t of ['2026-12-03T17:10:00.123Z', '2026-12-03T17:10:00Z', '2024-02-29T00:00:00.5Z'])
      expect(withStart(t).success, t).toBe(true);
  });

  it('refuses other forms and impossible dates as "Invalid datetime", naming the field', () => {
    for (const t of [
      '2026-12-03 17:10:00Z',
      '2026-12-03T17:10:00+01:00',
      '2026-12-03T17:10:00',
      '2025-02-29T00:00:00Z',
      '2026-13-01T00:00:00Z',
      'yesterday',
    ]) {
      const r = withStart(t);
      expect(r.success, t).toBe(false);
      expect(r.error!.issues[0]).toMatchObject({ path: ['startedAt'], message: 'Invalid datetime' });
    }
  });
});
