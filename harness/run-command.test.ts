import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { InputError } from '../core/errors.ts';
import { executablePath, placementFlag, resolvePathFlags } from './run-command.ts';

const REPO = resolve(import.meta.dirname, '..');
const dir = mkdtempSync(join(tmpdir(), 'ffwatt-runcmd-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function ffwatt(args: string[], cwd = REPO): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [join(REPO, 'bin/ffwatt.mjs'), ...args], {
      cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('exit', (code) => done({ code, stdout, stderr }));
  });
}

describe('run flags: paths resolved against the current directory', () => {
  it('resolves a relative --quality-ffmpeg to an absolute path, and refuses a missing one naming the flag', () => {
    const rel = 'node_modules/@ffmpeg-installer/linux-x64/ffmpeg';
    expect(executablePath(rel, '--quality-ffmpeg')).toBe(resolve(rel));
    expect(() => executablePath('node_modules/nope/ffmpeg', '--quality-ffmpeg')).toThrow(InputError);
    expect(() => executablePath('node_modules/nope/ffmpeg', '--quality-ffmpeg')).toThrow(
      /^--quality-ffmpeg node_modules\/nope\/ffmpeg: no such file \(looked for \//,
    );
    expect(() => executablePath('no-such-program-xyz', '--ffmpeg', { PATH: '/usr/bin' })).toThrow(
      /--ffmpeg no-such-program-xyz: not found on PATH/,
    );
    expect(executablePath('sh', '--ffmpeg', { PATH: '/usr/bin:/bin' })).toMatch(/\/sh$/);
  });

  it('checks every path flag and its FFWATT_* variable; an empty variable is unset', () => {
    expect(() => resolvePathFlags({ out: 'r', vmafModel: 'models/none.json' }, {})).toThrow(
      /--vmaf-model models\/none.json: no such file/,
    );
    expect(() => resolvePathFlags({ out: 'r' }, { FFWATT_QUALITY_FFMPEG: './missing/ffmpeg', PATH: '' })).toThrow(
      /FFWATT_QUALITY_FFMPEG \.\/missing\/ffmpeg: no such file/,
    );
    expect(() => resolvePathFlags({ out: 'r', tokenFile: 'no.token' }, {})).toThrow(
      /--token-file no.token: no such file/,
    );
    expect(resolvePathFlags({ out: 'r' }, { FFWATT_VMAF_MODEL: '' }).vmafModel).toBeUndefined();
  });

  it('accepts the three placements and names the flag otherwise', () => {
    expect(placementFlag('each-node')).toBe('each-node');
    expect(() => placementFlag('every-class')).toThrow(
      /--placement every-class: use one of any, each-class, each-node/,
    );
  });
});

describe('ffwatt run --dry-run (real process, real ffmpeg probe)', () => {
  it('prints the cells, the jobs per placement target and an estimate, exit 0, running nothing', async () => {
    const m = join(dir, 'm.yml');
    writeFileSync(
      m,
      `name: plan
input: {source: testsrc2, resolution: 320x240, fps: 30}
repetitions: {min: 2}
cooldown_s: 1
idle_baseline_s: 5
queue: batch
priority: 5
scenarios:
  - {mode: file, codec: h264, preset: [ultrafast, veryfast], rate: {crf: 30}, duration_s: 10}
`,
    );
    const r = await ffwatt(['run', m, '--dry-run', '--out', join(dir, 'never')]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('matrix plan');
    expect(r.stdout).toContain(
      'placement: any (default); repetitions 2–10 per cell until the 95% CI half-width is under 5%',
    );
    expect(r.stdout).toMatch(/1\. file h264\/ultrafast crf30 .*\[queue batch, priority 5\]/);
    // 2 cells × (1 s cooldown + 10 s) × 2..10 repetitions + 5 s idle baseline
    expect(r.stdout).toMatch(/any: 2 cells, 4–20 jobs on local-.*, about 0m 49s – 3m 45s/);
    expect(r.stdout).toContain('estimated duration: 0m 49s – 3m 45s');
    const json = await ffwatt(['run', m, '--dry-run', '--json']);
    expect(JSON.parse(json.stdout)).toMatchObject({
      placement: 'any',
      targets: [{ cells: 2, jobsMin: 4, jobsMax: 20 }],
      estimate: { secondsMin: 49, secondsMax: 225 },
    });
  }, 120_000);

  it('exits 2 with the matrix error', async () => {
    const bad = join(dir, 'bad.yml');
    writeFileSync(
      bad,
      'name: bad\ninput: {source: testsrc2, resolution: 320x240, fps: 30}\nplacement: every-node\nscenarios:\n  - {codec: h264, rate: {crf: 30}, duration_s: 1}\n',
    );
    const r = await ffwatt(['run', bad, '--dry-run']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /bad\.yml:3: placement: unknown placement 'every-node' — fix: use one of: any, each-class, each-node/,
    );
  }, 60_000);
});
