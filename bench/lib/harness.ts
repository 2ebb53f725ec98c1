/**
 * What every benchmark module shares: timing and load around its body, errors turned into a
 * result that says why, and running a module on its own (`npx tsx bench/<name>.ts [--quick]
 * [--result FILE]`).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { load1 } from './cpu.ts';
import { missingRow, type BenchBody, type BenchOptions, type BenchResult, type Target } from './result.ts';
import { renderTable } from './table.ts';

/** `primary`: the row that carries the benchmark's target, reported missing (with why) if the body throws. */
export async function measure(
  name: string,
  title: string,
  opts: BenchOptions,
  body: () => Promise<BenchBody>,
  primary?: { label: string; unit: string; target?: Target },
): Promise<BenchResult> {
  const startedAt = new Date().toISOString();
  const before = load1();
  const t0 = performance.now();
  let b: BenchBody;
  try {
    b = await body();
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    opts.log(`${name}: failed: ${msg}`);
    b = {
      title,
      method: '',
      rows: [missingRow(primary?.label ?? title, primary?.unit ?? '', `benchmark failed: ${msg}`, primary?.target)],
      details: { stack: (err as Error)?.stack },
      notes: [],
      error: msg,
    };
  }
  return {
    name,
    quick: opts.quick,
    startedAt,
    seconds: (performance.now() - t0) / 1000,
    load: { before, after: load1() },
    ...b,
  };
}

export function parseFlags(argv: string[]): { quick: boolean; result: string | null } {
  let quick = false;
  let result: string | null = null;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--quick') quick = true;
    else if (a === '--result') {
      result = argv[++i] ?? null;
      if (!result) throw new Error('--result needs a file path');
    } else throw new Error(`unknown flag ${a} (flags: --quick, --result FILE)`);
  }
  return { quick, result };
}

const log = (msg: string) => process.stderr.write(`[bench] ${msg}\n`);

/** Runs `run` when the module is the process' entry point (not when imported by run-all). */
export async function runIfMain(moduleUrl: string, run: (opts: BenchOptions) => Promise<BenchResult>): Promise<void> {
  if (!process.argv[1] || resolve(process.argv[1]) !== fileURLToPath(moduleUrl)) return;
  let flags;
  try {
    flags = parseFlags(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exit(2);
  }
  const result = await run({ quick: flags.quick, log });
  process.stdout.write(renderTable([result]) + '\n');
  if (flags.result) {
    mkdirSync(dirname(flags.result), { recursive: true });
    writeFileSync(flags.result, JSON.stringify(result, null, 2) + '\n');
  }
  // Exit explicitly: a benchmark must not hang on a leftover handle (servers are closed, but be sure).
  process.exit(result.error ? 1 : 0);
}
