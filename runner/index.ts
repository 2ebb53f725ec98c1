// Public API of runner/: the one way ffwatt starts a child process (on execa). It imports no
// other part of ffwatt, so every part can use it.
export { startProcess, runProcess, type ProcessOptions, type RunningProcess } from './process.ts';
export { ProcessResult, type ProcessResultFields } from './result.ts';
export { StderrTail } from './stderr-tail.ts';
export { stopAllProcesses, stoppingAllProcesses, liveProcesses } from './registry.ts';
