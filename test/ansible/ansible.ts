// Helpers for the Ansible tests: run ansible-playbook / the test-host script from the
// repository root, parse PLAY RECAP, reach the test hosts over ssh.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';

export const REPO = resolve(import.meta.dirname, '../..');
export const HOSTS_SH = join(REPO, 'test/hosts/hosts.sh');
export const HOSTS_WORK = join(REPO, 'test/.work/hosts');
export const INVENTORY = join(HOSTS_WORK, 'inventory.ini');
export const ROLES = ['runtime', 'master', 'worker'] as const;

/** Addresses and names written by test/hosts/hosts.sh (1 master + 2 workers). */
export const MASTER = { name: 'ffw-master', addr: '10.231.0.11' };
export const WORKERS = [
  { name: 'ffw-worker1', addr: '10.231.0.12' },
  { name: 'ffw-worker2', addr: '10.231.0.13' },
];

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  /** stdout + stderr, for failure messages */
  output: string;
}

/** Runs a command from the repository root; never throws on a non-zero exit. */
export function run(
  cmd: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number; input?: string } = {},
): Promise<Run> {
  return new Promise((res, rej) => {
    const child = spawn(cmd, args, {
      cwd: REPO,
      env: { ...process.env, ANSIBLE_NOCOLOR: '1', ANSIBLE_FORCE_COLOR: '0', PY_COLORS: '0', ...opts.env },
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGTERM'), opts.timeoutMs ?? 20 * 60_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      rej(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      res({ code, stdout, stderr, output: `${stdout}\n${stderr}` });
    });
    if (opts.input !== undefined && child.stdin) {
      child.stdin.on('error', () => {}); // the child may exit before reading its input
      child.stdin.end(opts.input);
    }
  });
}

export function playbook(args: string[], timeoutMs = 25 * 60_000): Promise<Run> {
  return run('ansible-playbook', ['-i', INVENTORY, ...args], { timeoutMs });
}

export interface RecapLine {
  ok: number;
  changed: number;
  unreachable: number;
  failed: number;
  skipped: number;
  rescued: number;
  ignored: number;
}

/** The last PLAY RECAP block of an ansible-playbook run, per host. */
export function recap(stdout: string): Record<string, RecapLine> {
  const at = stdout.lastIndexOf('PLAY RECAP');
  if (at < 0) throw new Error(`no PLAY RECAP in output:\n${stdout.slice(-3000)}`);
  const out: Record<string, RecapLine> = {};
  for (const line of stdout.slice(at).split('\n').slice(1)) {
    const m = /^(\S+)\s+:\s+(.*)$/.exec(line.trim());
    if (!m) continue;
    const fields = Object.fromEntries([...m[2].matchAll(/(\w+)=(\d+)/g)].map((f) => [f[1], Number(f[2])]));
    out[m[1]] = fields as unknown as RecapLine;
  }
  return out;
}

/** Names of the tasks that reported `changed` (for a readable idempotence failure). */
export function changedTasks(stdout: string): string[] {
  const tasks: string[] = [];
  let current = '';
  for (const line of stdout.split('\n')) {
    const t = /^(?:TASK|RUNNING HANDLER) \[(.*)\]/.exec(line);
    if (t) current = t[1];
    const c = /^changed: \[([^\]]+)/.exec(line);
    if (c) tasks.push(`${c[1]}: ${current}`);
  }
  return tasks;
}

export function ssh(addr: string, command: string, timeoutMs = 60_000): Promise<Run> {
  return run(
    'ssh',
    [
      '-o',
      'BatchMode=yes',
      '-o',
      'ConnectTimeout=5',
      '-o',
      'IdentitiesOnly=yes',
      '-o',
      'StrictHostKeyChecking=yes',
      '-o',
      `UserKnownHostsFile=${join(HOSTS_WORK, 'known_hosts')}`,
      '-i',
      join(HOSTS_WORK, 'id_ed25519'),
      `root@${addr}`,
      command,
    ],
    { timeoutMs },
  );
}

/** Keys of a role's defaults/main.yml. */
export function defaultsOf(role: string): Record<string, unknown> {
  return (parseYaml(readFileSync(join(REPO, 'roles', role, 'defaults/main.yml'), 'utf8')) ?? {}) as Record<
    string,
    unknown
  >;
}

export interface SpecOption {
  type?: string;
  required?: boolean;
  default?: unknown;
  description?: string | string[];
}

/** Options of a role's meta/argument_specs.yml (entry point main). */
export function specOf(role: string): Record<string, SpecOption> {
  const doc = parseYaml(readFileSync(join(REPO, 'roles', role, 'meta/argument_specs.yml'), 'utf8')) as {
    argument_specs: { main: { options: Record<string, SpecOption> } };
  };
  return doc.argument_specs.main.options;
}

export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined | false>,
  timeoutMs: number,
  everyMs = 1000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
