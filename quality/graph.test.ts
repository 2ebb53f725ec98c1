import { describe, expect, it } from 'vitest';
import {
  buildComparison,
  buildReferenceRender,
  escapeGraphLevel,
  escapeOptionValue,
  filterValue,
  formatRate,
  referenceInputArgs,
  type ComparisonSpec,
} from './graph.ts';

const base: ComparisonSpec = {
  reference: { kind: 'synthetic', source: 'testsrc2', resolution: { width: 320, height: 240 }, fps: 30, durationS: 2 },
  distorted: { path: '/out/r0.mp4', fps: 15, resolution: { width: 160, height: 120 } },
  scaler: 'bicubic',
  pixFmt: 'yuv420p',
  logs: { psnr: 'psnr.log', ssim: 'ssim.log', vmaf: 'vmaf.json' },
  vmaf: null,
};

describe('comparison command', () => {
  it('normalises both inputs, scales the distorted one and compares with shortest=1:repeatlast=0', () => {
    const cmd = buildComparison(base);
    expect(cmd.filterGraph).toBe(
      '[0:v]settb=AVTB,setpts=PTS-STARTPTS,fps=fps=30,scale=320:240:flags=bicubic,format=yuv420p[dist];' +
        '[1:v]settb=AVTB,setpts=PTS-STARTPTS,fps=fps=30,format=yuv420p,split=2[ref0][ref1];' +
        '[dist][ref0]psnr=stats_file=psnr.log:shortest=1:repeatlast=0[dist1];' +
        '[dist1][ref1]ssim=stats_file=ssim.log:shortest=1:repeatlast=0',
    );
    expect(cmd.args).toEqual([
      '-hide_banner',
      '-nostdin',
      '-nostats',
      '-loglevel',
      'error',
      '-i',
      '/out/r0.mp4',
      '-f',
      'lavfi',
      '-i',
      'testsrc2=size=320x240:rate=30:duration=2',
      '-filter_complex',
      cmd.filterGraph,
      '-f',
      'null',
      '-',
    ]);
  });

  it('renders the reference in the encoding FFmpeg as raw frames to stdout, read by the scorer from stdin', () => {
    expect(buildReferenceRender(base.reference, 'yuv420p')).toEqual([
      '-hide_banner',
      '-nostdin',
      '-nostats',
      '-loglevel',
      'error',
      '-f',
      'lavfi',
      '-i',
      'testsrc2=size=320x240:rate=30:duration=2',
      '-map',
      '0:v:0',
      '-pix_fmt',
      'yuv420p',
      '-c:v',
      'rawvideo',
      '-f',
      'nut',
      'pipe:1',
    ]);
    expect(
      buildReferenceRender(
        { kind: 'file', path: '/w/live-source.flv', resolution: { width: 320, height: 240 }, fps: 25, startS: 2 },
        'yuv420p10le',
      ).slice(5),
    ).toEqual([
      '-i',
      '/w/live-source.flv',
      '-map',
      '0:v:0',
      '-pix_fmt',
      'yuv420p10le',
      '-c:v',
      'rawvideo',
      '-f',
      'nut',
      'pipe:1',
    ]);
    const cmd = buildComparison({ ...base, referenceOnStdin: true });
    expect(cmd.args.slice(5, 11)).toEqual(['-i', '/out/r0.mp4', '-f', 'nut', '-i', 'pipe:0']);
    expect(cmd.filterGraph).toBe(buildComparison(base).filterGraph);
  });

  it('adds libvmaf 1.x with model_path and a JSON log', () => {
    const cmd = buildComparison({
      ...base,
      scaler: 'lanczos',
      vmaf: { generation: 1, modelPath: '/m/vmaf_v0.6.1.pkl' },
    });
    expect(cmd.filterGraph).toContain('flags=lanczos');
    expect(cmd.filterGraph).toContain('split=3[ref0][ref1][ref2]');
    expect(cmd.filterGraph).toContain('[dist1][ref1]ssim=stats_file=ssim.log:shortest=1:repeatlast=0[dist2]');
    expect(
      cmd.filterGraph.endsWith(
        '[dist2][ref2]libvmaf=model_path=/m/vmaf_v0.6.1.pkl:log_fmt=json:log_path=vmaf.json:shortest=1:repeatlast=0',
      ),
    ).toBe(true);
  });

  it('adds libvmaf 2.x with model=path=', () => {
    const cmd = buildComparison({ ...base, vmaf: { generation: 2, modelPath: '/m/vmaf_v0.6.1.json' } });
    expect(cmd.filterGraph).toContain(
      '[dist2][ref2]libvmaf=model=path=/m/vmaf_v0.6.1.json:log_fmt=json:log_path=vmaf.json:shortest=1:repeatlast=0',
    );
    expect(() => buildComparison({ ...base, vmaf: { generation: 2, modelPath: '/m:x/v.json' } })).toThrow(
      /libvmaf 2\.x cannot take/,
    );
  });

  it('reads a file reference as is; without a duration a synthetic one runs until the output ends', () => {
    expect(
      referenceInputArgs({ kind: 'file', path: '/in/a.mkv', fps: 25, resolution: { width: 1, height: 1 } }),
    ).toEqual(['-i', '/in/a.mkv']);
    expect(
      referenceInputArgs({
        kind: 'synthetic',
        source: 'smptehdbars',
        fps: 29.97,
        resolution: { width: 1280, height: 720 },
      }),
    ).toEqual(['-f', 'lavfi', '-i', 'smptehdbars=size=1280x720:rate=30000/1001']);
  });

  it('formats frame rates and refuses bad ones', () => {
    expect(formatRate(30)).toBe('30');
    expect(formatRate(59.94)).toBe('60000/1001');
    expect(formatRate(23.976)).toBe('24000/1001');
    expect(formatRate(12.5)).toBe('12.5');
    expect(() => formatRate(0)).toThrow(/positive/);
  });

  it('escapes option values for both filter-graph levels', () => {
    expect(escapeOptionValue("a:b'c\\d")).toBe("a\\:b\\'c\\\\d");
    expect(escapeGraphLevel('a[b],c;d')).toBe('a\\[b\\]\\,c\\;d');
    expect(filterValue('/x:y,z')).toBe('/x\\\\:y\\,z');
  });
});
