/**
 * Flags of the node command line that runs a measuring ffwatt process (`agent`, and `run` in local
 * mode, whose agent is in-process). Every place that starts one carries them: the worker role's
 * unit (roles/worker/templates/ffwatt-agent.service.j2), bin/ffwatt.mjs's shebang, the Makefile,
 * scripts/hw-check.sh and bench/overhead.ts; test/ansible/static.test.ts checks they agree.
 *
 * `--no-memory-reducer`: while the agent waits on FFmpeg, V8 takes the process for idle and its
 * memory reducer runs full mark-compact GCs (15–72 ms of CPU each, in the main isolate and in
 * tsx's loader thread) inside the measured window: the harness' own CPU per run went from ~60 to
 * ~38 ms without it (docs/PERFORMANCE.md, harness overhead). The heap of an idle agent then only
 * shrinks through ordinary GCs. V8 sets the reducer up with the heap, so the flag works only on
 * the command line (v8.setFlagsFromString is too late; NODE_OPTIONS refuses it).
 */
export const MEASURING_NODE_FLAGS: readonly string[] = ['--no-memory-reducer'];
