import { execFileSync } from 'node:child_process';

/**
 * A real CPU hog outside the caller's process tree: `yes > /dev/null` started by a shell that
 * exits at once, so the hog is re-parented (to init or the nearest subreaper) and counts as
 * another process's load, the way a noisy neighbour on a real machine does.
 */
export function startCpuHogs(count = 1): { pids: number[]; stop(): void } {
  const pids: number[] = [];
  for (let i = 0; i < count; i++) {
    const out = execFileSync('sh', ['-c', 'yes > /dev/null 2>&1 & echo $!'], { encoding: 'utf8' });
    pids.push(Number(out.trim()));
  }
  return {
    pids,
    stop: () => {
      for (const pid of pids.splice(0)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* already gone */
        }
      }
    },
  };
}
