import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { request, Agent } from 'undici';
import { freeLoopbackPort } from '../../core/net.ts';

export const REPO = resolve(import.meta.dirname, '../..');
export const FFWATT = join(REPO, 'bin/ffwatt.mjs');

export const freePort = freeLoopbackPort;

/** A CA, a server certificate for 127.0.0.1/localhost and two client certificates (one from another CA). */
export function makePki(dir: string): {
  ca: string;
  cert: string;
  key: string;
  clientCert: string;
  clientKey: string;
  rogueCert: string;
  rogueKey: string;
} {
  mkdirSync(dir, { recursive: true });
  const o = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const ca = (name: string) => {
    o(
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '2',
      '-subj',
      `/CN=${name}`,
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.crt`,
    );
  };
  const leaf = (name: string, caName: string, ext: string) => {
    o('req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.csr`);
    writeFileSync(join(dir, `${name}.ext`), ext);
    o(
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      `${caName}.crt`,
      '-CAkey',
      `${caName}.key`,
      '-CAcreateserial',
      '-days',
      '2',
      '-extfile',
      `${name}.ext`,
      '-out',
      `${name}.crt`,
    );
  };
  ca('ca');
  ca('rogue-ca');
  leaf('server', 'ca', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  leaf('client', 'ca', 'extendedKeyUsage=clientAuth\n');
  leaf('rogue', 'rogue-ca', 'extendedKeyUsage=clientAuth\n');
  const p = (f: string) => join(dir, f);
  return {
    ca: p('ca.crt'),
    cert: p('server.crt'),
    key: p('server.key'),
    clientCert: p('client.crt'),
    clientKey: p('client.key'),
    rogueCert: p('rogue.crt'),
    rogueKey: p('rogue.key'),
  };
}

export interface Proc {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

export function startFfwatt(args: string[], env: NodeJS.ProcessEnv = {}): Proc {
  const child = spawn(process.execPath, [FFWATT, ...args], {
    cwd: REPO,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return { child, output: () => out, exited };
}

export async function stop(p: Proc, signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 15_000): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return;
  p.child.kill(signal);
  const t = setTimeout(() => p.child.kill('SIGKILL'), timeoutMs);
  await p.exited;
  clearTimeout(t);
}

export async function api<T = unknown>(
  base: string,
  method: 'GET' | 'POST' | 'DELETE',
  path: string,
  opts: { token?: string; body?: unknown; raw?: string; dispatcher?: Agent; headers?: Record<string, string> } = {},
): Promise<{ status: number; body: T }> {
  const res = await request(`${base}/api/v1${path}`, {
    method,
    dispatcher: opts.dispatcher,
    headers: {
      ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
      ...(opts.body !== undefined || opts.raw !== undefined ? { 'content-type': 'application/json' } : {}),
      ...opts.headers,
    },
    body: opts.raw ?? (opts.body !== undefined ? JSON.stringify(opts.body) : undefined),
  });
  const text = await res.body.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    /* not JSON */
  }
  return { status: res.statusCode, body: body as T };
}

export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | null | undefined | false>,
  timeoutMs = 60_000,
  everyMs = 250,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  let lastErr: unknown;
  while (Date.now() < end) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      lastErr = err;
    }
    await sleep(everyMs);
  }
  throw new Error(`timed out waiting for ${what}${lastErr ? `: ${(lastErr as Error).message}` : ''}`);
}

/** Pids of processes whose command line contains `needle` (to check nothing is left behind). */
export function pidsMatching(needle: string): number[] {
  try {
    return execFileSync('pgrep', ['-f', needle], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .map(Number)
      .filter((p) => p !== process.pid);
  } catch {
    return [];
  }
}

/**
 * A client certificate for one node, from the CA made by makePki: CN and DNS subjectAltName are the
 * node id (the master ties a node credential to that name when mTLS is on).
 */
export function nodeCert(pkiDir: string, nodeId: string): { cert: string; key: string } {
  const o = (...args: string[]) => execFileSync('openssl', args, { cwd: pkiDir, stdio: 'pipe' });
  const name = `node-${nodeId}`;
  o('req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${nodeId}`, '-keyout', `${name}.key`, '-out', `${name}.csr`);
  writeFileSync(join(pkiDir, `${name}.ext`), `subjectAltName=DNS:${nodeId}\nextendedKeyUsage=clientAuth\n`);
  o(
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-days',
    '2',
    '-extfile',
    `${name}.ext`,
    '-out',
    `${name}.crt`,
  );
  return { cert: join(pkiDir, `${name}.crt`), key: join(pkiDir, `${name}.key`) };
}

/** A TLS dispatcher presenting that client certificate. */
export function tlsAgent(ca: string, client?: { cert: string; key: string }): Agent {
  return new Agent({
    connect: {
      ca: readFileSync(ca),
      ...(client ? { cert: readFileSync(client.cert), key: readFileSync(client.key) } : {}),
    },
  });
}

/** Runs `ffwatt ARGS` to the end (killed after timeoutMs); stdout and stderr apart. */
export function runFfwatt(
  args: string[],
  env: NodeJS.ProcessEnv = {},
  timeoutMs = 120_000,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [FFWATT, ...args], {
      cwd: REPO,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A minimal valid record for a hand-driven node, started at `startedAt` by its own clock. */
export function handRecord(
  jobId: string,
  attempt: number,
  nodeId: string,
  status = 'succeeded',
  startedAt = new Date(),
) {
  const t = startedAt;
  return {
    jobId,
    attempt,
    nodeId,
    status,
    exitCode: status === 'succeeded' ? 0 : 1,
    signal: null,
    error: status === 'succeeded' ? null : 'hand-made failure',
    stderrTail: '',
    startedAt: t.toISOString(),
    endedAt: new Date(t.getTime() + 1000).toISOString(),
    wallS: 1,
    mediaSeconds: 1,
    frames: 30,
    outputBytes: 1000,
    bitrateBps: 8000,
    fps: 30,
    speed: 1,
    droppedFrames: 0,
    dupFrames: 0,
    energy: null,
    quality: null,
    flags: [],
    provenance: { ffmpegVersion: 'hand', encoder: 'libx264', argv: [] },
  };
}
