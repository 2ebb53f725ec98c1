// Ctrl-C during quality scoring must leave no FFmpeg behind: the scoring FFmpeg (libvmaf build) and
// the encoding FFmpeg that pipes it the reference both sit in runner/'s registry.
import { execFileSync, spawn } from 'node:child_process';
import { access } from 'node:fs/promises';
import { constants as fsConstants } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { runProcess } from '../runner/index.ts';
import { workDir } from '../media/test-helpers.ts';

const repoRoot = path.resolve(import.meta.dirname, '..');
const VMAF_FFMPEG = path.join(repoRoot, 'node_modules', '@ffmpeg-installer', 'linux-x64', 'ffmpeg');
const PKL = path.resolve(repoRoot, '..', 'shared', 'vmaf', 'vmaf_v0.6.1.pkl');
const script = fileURLToPath(new URL('../test/fixtures/ffmpeg/score-quality.mts', import.meta.url));
const SECONDS = 20;

/** Live (not zombie) processes whose parent is `ppid`, with their command lines. */
function childrenOf(ppid: number): Array<{ pid: number; args: string }> {
  const out = execFileSync('ps', ['-eo', 'pid=,ppid=,stat=,args='], { encoding: 'utf8' });
  return out
    .split('\n')
    .map((l) => /^\s*(\d+)\s+(\d+)\s+(\S+)\s+(.*)$/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null && Number(m[2]) === ppid && !m[3].startsWith('Z'))
    .map((m) => ({ pid: Number(m[1]), args: m[4] }));
}

function alive(pid: number): boolean {
  try {
    const stat = execFileSync('ps', ['-o', 'stat=', '-p', String(pid)], { encoding: 'utf8' }).trim();
    return stat !== '' && !stat.startsWith('Z');
  } catch {
    return false; // ps exits 1 when the pid is gone
  }
}

let dir: string;
let distorted: string;

beforeAll(async () => {
  await access(VMAF_FFMPEG, fsConstants.X_OK);
  await access(PKL);
  dir = workDir('quality-cleanup');
  distorted = path.join(dir, 'encode.mkv');
  await runProcess('ffmpeg', [
    '-hide_banner',
    '-nostdin',
    '-loglevel',
    'error',
    '-y',
    '-f',
    'lavfi',
    '-i',
    `testsrc2=size=640x360:rate=30:duration=${SECONDS}`,
    '-c:v',
    'libx264',
    '-preset',
    'ultrafast',
    '-b:v',
    '1M',
    distorted,
  ]);
}, 60_000);

describe('Ctrl-C during VMAF scoring', () => {
  it('stops the scoring and the reference-rendering FFmpeg, and the program dies by SIGINT', async () => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', script, path.join(dir, 'work'), distorted, String(SECONDS), VMAF_FFMPEG, PKL],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    const exited = new Promise<{ code: number | null; signal: string | null }>((res) =>
      child.on('exit', (code, signal) => res({ code, signal })),
    );

    // Wait until both halves of the comparison run: the libvmaf scorer and the encoding FFmpeg piping it frames.
    const deadline = Date.now() + 30_000;
    let running: Array<{ pid: number; args: string }> = [];
    while (Date.now() < deadline) {
      running = childrenOf(child.pid!);
      if (running.some((p) => p.args.includes('libvmaf')) && running.some((p) => p.args.includes('rawvideo'))) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(running.map((p) => p.args).join('\n'), out).toMatch(/libvmaf/);
    expect(running.map((p) => p.args).join('\n')).toMatch(/-c:v rawvideo -f nut pipe:1/);
    await new Promise((r) => setTimeout(r, 500)); // well into scoring

    const t0 = Date.now();
    child.kill('SIGINT');
    const how = await exited;
    expect(how.signal, out).toBe('SIGINT');
    expect((Date.now() - t0) / 1000).toBeLessThan(5);
    expect(out).not.toMatch(/RESULT/); // killed mid-scoring, not after
    expect(out).toMatch(/FAILED .*ffmpeg was stopped \(this program was interrupted\)/);
    await new Promise((r) => setTimeout(r, 200));
    expect(running.filter((p) => alive(p.pid))).toEqual([]);
  }, 60_000);
});
