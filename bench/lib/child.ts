/** Runs a TypeScript helper in a fresh Node process (through tsx) and reads the JSON it prints last. */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export interface ChildRun {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  wallS: number;
}

/** Every descendant of `pid` (children first found through /proc/<pid>/stat's ppid). */
export function descendants(pid: number): number[] {
  const parentOf = new Map<number, number>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      parentOf.set(Number(d), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      /* gone meanwhile */
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const [c, pp] of parentOf) {
      if (pp !== p || out.includes(c)) continue;
      out.push(c);
      walk(c);
    }
  };
  walk(pid);
  return out;
}

/** SIGKILLs a process we started and everything it started (a timed-out helper must not leave a master running). */
export function killTree(pid: number): void {
  for (const p of [pid, ...descendants(pid)]) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
}

/** `node --import tsx script args…` from the repository root, bounded by timeoutMs. */
export function runTs(
  script: string,
  args: string[],
  opts: { timeoutMs: number; env?: NodeJS.ProcessEnv; onStderr?: (s: string) => void; nodeArgs?: string[] },
): Promise<ChildRun> {
  return new Promise((resolvePromise, reject) => {
    const t0 = performance.now();
    const child = spawn(
      process.execPath,
      [...(opts.nodeArgs ?? []), '--import', 'tsx', resolve(REPO_ROOT, script), ...args],
      {
        cwd: REPO_ROOT,
        env: { ...process.env, ...opts.env },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => {
      stderr += d;
      opts.onStderr?.(String(d));
    });
    const timer = setTimeout(() => (child.pid ? killTree(child.pid) : child.kill('SIGKILL')), opts.timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code, signal, stdout, stderr, wallS: (performance.now() - t0) / 1000 });
    });
  });
}

/** The last line of stdout that parses as a JSON object. */
export function lastJson<T>(stdout: string): T | null {
  const lines = stdout.trim().split('\n').reverse();
  for (const l of lines) {
    const s = l.trim();
    if (!s.startsWith('{')) continue;
    try {
      return JSON.parse(s) as T;
    } catch {
      /* not this line */
    }
  }
  return null;
}

/** A JSON document printed by a helper: the whole of stdout, else from the last line that starts with "{". */
export function jsonDoc<T>(stdout: string): T | null {
  const text = stdout.trim();
  try {
    return JSON.parse(text) as T;
  } catch {
    /* there is other output before it */
  }
  const lines = text.split('\n');
  for (let i = lines.length - 1; i >= 0; i--) {
    if (!lines[i].startsWith('{')) continue;
    try {
      return JSON.parse(lines.slice(i).join('\n')) as T;
    } catch {
      /* keep looking */
    }
  }
  return null;
}

/** Runs a helper that prints one JSON line; throws with its stderr tail when it fails. */
export async function runTsJson<T>(script: string, args: string[], timeoutMs: number, nodeArgs?: string[]): Promise<T> {
  const r = await runTs(script, args, { timeoutMs, nodeArgs });
  const out = lastJson<T>(r.stdout);
  if (r.code !== 0 || !out) {
    const why = r.signal ? `killed by ${r.signal} (limit ${timeoutMs / 1000} s)` : `exit ${r.code}`;
    throw new Error(`${script} ${args.join(' ')}: ${why}: ${r.stderr.trim().split('\n').slice(-5).join(' | ')}`);
  }
  return out;
}
