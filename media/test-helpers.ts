/** Helpers shared by the media tests (not part of the media API). */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import type { LadderRung, RateControl, Scenario } from '../core/types.ts';

export function res(s: string) {
  const [width, height] = s.split('x').map(Number);
  return { width, height };
}

export function makeScenario(
  over: Partial<Scenario> & { rungs?: Array<[string, number, RateControl?]> } = {},
): Scenario {
  const { rungs, ...rest } = over;
  const input = rest.input ?? { kind: 'synthetic', source: 'testsrc2', resolution: res('320x240'), fps: 25 };
  const outputs: LadderRung[] = rungs
    ? rungs.map(([r, fps, rate]) => ({ resolution: res(r), fps, ...(rate ? { rate } : {}) }))
    : [{ resolution: input.resolution, fps: input.fps }];
  return {
    key: 'test',
    label: 'test scenario',
    mode: 'file',
    input,
    codec: 'h264',
    preset: 'ultrafast',
    rate: { kind: 'crf', value: 23 },
    streams: 1,
    warmupS: 0,
    durationS: 1,
    outputs,
    ...rest,
  };
}

/** A scratch directory under test/.work (gitignored). */
export function workDir(name: string): string {
  const base = join(process.cwd(), 'test', '.work');
  mkdirSync(base, { recursive: true });
  return mkdtempSync(join(base, `${name}-`));
}

export interface ProbedStream {
  width: number;
  height: number;
  codec: string;
  durationS: number;
  frames: number;
}

/** ffprobe the first video stream of a file (counts frames by decoding). */
export function probeVideo(path: string): ProbedStream {
  const out = execFileSync(
    'ffprobe',
    [
      '-v',
      'error',
      '-count_frames',
      '-select_streams',
      'v:0',
      '-show_entries',
      'stream=width,height,codec_name,nb_read_frames:format=duration',
      '-of',
      'json',
      path,
    ],
    { encoding: 'utf8' },
  );
  const j = JSON.parse(out) as { streams: Array<Record<string, string | number>>; format: { duration: string } };
  const s = j.streams[0];
  return {
    width: Number(s.width),
    height: Number(s.height),
    codec: String(s.codec_name),
    durationS: Number(j.format.duration),
    frames: Number(s.nb_read_frames),
  };
}

/** Pids of live processes whose command line contains `marker`. */
export function pidsMatching(marker: string): number[] {
  const out = execFileSync('ps', ['-eo', 'pid=,stat=,args='], { encoding: 'utf8' });
  return out
    .split('\n')
    .filter((l) => l.includes(marker) && !l.includes('ps -eo'))
    .map((l) => l.trim().split(/\s+/))
    .filter(([, stat]) => !stat.startsWith('Z'))
    .map(([pid]) => Number(pid));
}
