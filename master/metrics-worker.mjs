// Entry of the /metrics refresh thread (master/metrics-thread.ts): TypeScript is loaded through
// tsx here too, since a worker thread does not inherit the main thread's loader.
import { register } from 'tsx/esm/api';

register();
await import('./metrics-thread.ts');
