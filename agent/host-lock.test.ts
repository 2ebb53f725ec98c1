import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../core/log.ts';
import {
  DEFAULT_HOST_LOCK_PATH,
  flockHolderPid,
  HostLock,
  HostLockBusyError,
  hostLockPath,
  hostLockWaitS,
} from './host-lock.ts';

const REPO = resolve(import.meta.dirname, '..');
const children: ChildProcess[] = [];
const dirs: string[] = [];

afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'ffwatt-lock-'));
  dirs.push(d);
  return d;
}

/** Another process (ffwatt's own code, through tsx) that takes the lock, says so, and holds it until killed. */
async function holderProcess(dir: string, lockPath: string, nodeId: string): Promise<ChildProcess> {
  const script = join(dir, 'hold.mjs');
  writeFileSync(
    script,
    `import { register } from ${JSON.stringify(join(REPO, 'node_modules/tsx/dist/esm/api/index.mjs'))};
register();
const { HostLock } = await import(${JSON.stringify(join(REPO, 'agent/host-lock.ts'))});
const lease = await new HostLock({ path: ${JSON.stringify(lockPath)}, nodeId: ${JSON.stringify(nodeId)}, role: 'agent' }).acquire();
process.stdout.write('locked ' + JSON.stringify(lease.holder) + '\\n');
setInterval(() => {}, 1 << 30);
`,
  );
  const child = spawn(process.execPath, [script], { cwd: REPO, stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  await new Promise<void>((res, rej) => {
    let out = '';
    child.stdout!.on('data', (d) => {
      out += d;
      if (out.includes('locked ')) res();
    });
    child.on('exit', (code) => rej(new Error(`holder exited ${code} before locking: ${out}`)));
  });
  return child;
}

describe('host lock (flock on one file per machine)', () => {
  it('defaults to /run/lock, overridable by FFWATT_HOST_LOCK and by an explicit path', () => {
    expect(DEFAULT_HOST_LOCK_PATH).toBe('/run/lock/ffwatt-measure.lock');
    expect(hostLockPath(undefined, {})).toBe(DEFAULT_HOST_LOCK_PATH);
    expect(hostLockPath(undefined, { FFWATT_HOST_LOCK: '/tmp/x.lock' })).toBe('/tmp/x.lock');
    expect(hostLockPath('/tmp/y.lock', { FFWATT_HOST_LOCK: '/tmp/x.lock' })).toBe('/tmp/y.lock');
  });

  it('reads the wait bound from FFWATT_HOST_LOCK_WAIT_S (default 600 s), refusing a bad one', () => {
    expect(hostLockWaitS({})).toBe(600);
    expect(hostLockWaitS({ FFWATT_HOST_LOCK_WAIT_S: '2.5' })).toBe(2.5);
    expect(() => hostLockWaitS({ FFWATT_HOST_LOCK_WAIT_S: 'soon' })).toThrow(
      /FFWATT_HOST_LOCK_WAIT_S must be a number of seconds/,
    );
  });

  it('is exclusive between two locks of one process and free again after release', () => {
    const path = join(tmp(), 'm.lock');
    const a = new HostLock({ path, nodeId: 'n1', role: 'agent' });
    const b = new HostLock({ path, nodeId: 'n2', role: 'local run' });
    const la = a.tryAcquire();
    expect(la).not.toBeNull();
    expect(b.tryAcquire()).toBeNull();
    expect(b.holder()).toMatchObject({ pid: process.pid, nodeId: 'n1', role: 'agent' });
    la!.release();
    la!.release(); // idempotent
    const lb = b.tryAcquire();
    expect(lb).not.toBeNull();
    lb!.release();
  });

  it('names the holder of another process, refuses after the bounded wait, and is released by the kernel when the holder is killed -9', async () => {
    const dir = tmp();
    const path = join(dir, 'm.lock');
    const holder = await holderProcess(dir, path, 'node-a');
    const lines: string[] = [];
    const log = createLogger({ format: 'json', write: (l) => lines.push(l) });
    const lock = new HostLock({ path, nodeId: 'node-b', role: 'agent', waitS: 0.5, log });

    expect(flockHolderPid(path)).toBe(holder.pid); // the kernel's own record agrees
    const err = await lock.acquire().catch((e) => e);
    expect(err).toBeInstanceOf(HostLockBusyError);
    expect(err.message).toContain(`pid ${holder.pid}, node node-a, agent, since 20`);
    const waitLine = JSON.parse(lines[0]);
    expect(waitLine).toMatchObject({ level: 'warn', holderPid: holder.pid, holderNode: 'node-a', waitLimitS: 0.5 });
    expect(waitLine.msg).toMatch(/waiting for the host lock/);

    // A waiter that is still waiting when the holder dies gets the lock: nothing but the kernel releases it.
    const patient = new HostLock({ path, nodeId: 'node-b', role: 'agent', waitS: 30 });
    const pending = patient.acquire();
    await new Promise((r) => setTimeout(r, 300));
    holder.kill('SIGKILL');
    const lease = await pending;
    expect(lease.holder).toMatchObject({ pid: process.pid, nodeId: 'node-b' });
    expect(flockHolderPid(path)).toBe(process.pid);
    lease.release();
    expect(flockHolderPid(path)).toBeNull();
  });

  it('waits for a lock held by util-linux flock(1) (the same kernel lock) and can be aborted', async () => {
    const path = join(tmp(), 'm.lock');
    const other = spawn('flock', ['-x', path, 'sleep', '60'], { stdio: 'ignore' });
    children.push(other);
    const lock = new HostLock({ path, nodeId: 'n', role: 'agent', waitS: 30 });
    const started = Date.now();
    while (flockHolderPid(path) === null && Date.now() - started < 10_000) await new Promise((r) => setTimeout(r, 50));
    expect(lock.tryAcquire()).toBeNull();
    expect(lock.holder()?.pid).toBe(flockHolderPid(path)); // no name in the file: the pid from /proc/locks
    const ctl = new AbortController();
    const p = lock.acquire(ctl.signal);
    setTimeout(() => ctl.abort(new Error('stopping')), 200);
    await expect(p).rejects.toThrow(/stopping/);
  });

  it('refuses an unusable lock path with an error naming the flag', () => {
    const lock = new HostLock({ path: '/nonexistent-dir/ffwatt.lock', nodeId: 'n', role: 'agent' });
    expect(() => lock.tryAcquire()).toThrow(/--host-lock/);
  });

  it('refuses a bad wait bound', () => {
    expect(() => new HostLock({ path: '/tmp/x', nodeId: 'n', role: 'agent', waitS: -1 })).toThrow(/--host-lock-wait-s/);
  });
});
