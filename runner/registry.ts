/**
 * The registry of live children: each runs in its own process group, so SIGINT/SIGTERM/SIGHUP
 * or exit of this program stops every group (ffmpeg, nginx and nginx's workers).
 */
interface Entry {
  argv: string[];
}
const live = new Map<number, Entry>();
let handlersInstalled = false;
let stoppingAll = false;

/** True once stopAllProcesses ran (a signal to this program): children failing now were stopped, not broken. */
export function stoppingAllProcesses(): boolean {
  return stoppingAll;
}

/** Signals the process group led by `pid` (the process alone when it has no group of its own). */
export function killGroup(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pid, sig);
  } catch {
    try {
      process.kill(pid, sig);
    } catch {
      /* already gone */
    }
  }
}

export function register(pid: number, argv: string[]): void {
  installHandlers();
  live.set(pid, { argv });
}

export function unregister(pid: number): void {
  live.delete(pid);
}

export function isLive(pid: number): boolean {
  return live.has(pid);
}

/** Processes started here and not yet exited. */
export function liveProcesses(): Array<{ pid: number; argv: string[] }> {
  return [...live.entries()].map(([pid, e]) => ({ pid, argv: e.argv }));
}

/** SIGTERM every registered process group, wait up to graceMs, then SIGKILL the rest. */
export async function stopAllProcesses(graceMs = 2000): Promise<void> {
  stoppingAll = true;
  for (const pid of live.keys()) killGroup(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (live.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  for (const pid of live.keys()) killGroup(pid, 'SIGKILL');
}

function killAllNow(): void {
  for (const pid of live.keys()) killGroup(pid, 'SIGKILL');
}

function onSignal(sig: NodeJS.Signals): void {
  // Decided when the signal arrives: a handler of the program that is gone 1.5 s later (it
  // finished its own shutdown) still owned this signal, and the program exits as it chose.
  const onlyOurs = process.listenerCount(sig) <= 1;
  void stopAllProcesses(1500).then(() => {
    // Only ours listening: behave as the default would and die by the same signal.
    if (onlyOurs) {
      process.removeAllListeners(sig);
      process.kill(process.pid, sig);
    }
  });
}

function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, onSignal);
  process.on('exit', killAllNow);
}
