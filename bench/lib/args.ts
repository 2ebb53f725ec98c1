import { parseArgs, type ParseArgsConfig } from 'node:util';

/**
 * node:util parseArgs (strict: an unknown flag, a missing value or, with `allowPositionals` false,
 * a stray argument exits 2 naming it).
 */
export function parseArgsOrExit<O extends NonNullable<ParseArgsConfig['options']>>(
  args: string[],
  options: O,
  allowPositionals = true,
) {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals });
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exit(2);
  }
}

/** A numeric bench flag within [min, max], or exit 2 naming the flag (the bench scripts' shared check). */
export function bounded(name: string, v: string, min: number, max: number): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n < min || n > max) {
    process.stderr.write(`--${name} must be a number from ${min} to ${max} (got ${v})\n`);
    process.exit(2);
  }
  return n;
}
