// Shared by the monitoring tests: free loopback ports, daemons started with explicit
// addresses and always killed, HTTP polling with a bound.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { freeLoopbackPort } from '../../core/net.ts';

export const ROOT = resolve(import.meta.dirname, '../..');
export const MONITORING = join(ROOT, 'monitoring');

export function workDir(prefix: string): string {
  const base = join(ROOT, 'test/.work');
  mkdirSync(base, { recursive: true });
  return mkdtempSync(join(base, `${prefix}-`));
}

export const freePort = freeLoopbackPort;

export interface Daemon {
  name: string;
  proc: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

export function startDaemon(name: string, cmd: string, args: string[]): Daemon {
  const proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const keep = (b: Buffer) => {
    out = (out + b.toString()).slice(-20_000);
  };
  proc.stdout?.on('data', keep);
  proc.stderr?.on('data', keep);
  return {
    name,
    proc,
    output: () => out,
    stop: () =>
      new Promise<void>((res) => {
        if (proc.exitCode !== null || proc.signalCode !== null) return res();
        const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
        proc.once('exit', () => {
          clearTimeout(timer);
          res();
        });
        proc.kill('SIGTERM');
      }),
  };
}

/** Polls until check returns a value (not undefined) or the deadline passes. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs: number,
  daemons: Daemon[] = [],
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      lastErr = err;
    }
    for (const d of daemons) {
      if (d.proc.exitCode !== null)
        throw new Error(`${d.name} exited (${d.proc.exitCode}) while waiting for ${what}:\n${d.output()}`);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  const logs = daemons.map((d) => `--- ${d.name} ---\n${d.output().slice(-3000)}`).join('\n');
  throw new Error(
    `timed out after ${timeoutMs} ms waiting for ${what}${lastErr ? ` (last error: ${String(lastErr)})` : ''}\n${logs}`,
  );
}

export async function getJson(url: string): Promise<unknown> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status} ${await res.text()}`);
  return res.json();
}
