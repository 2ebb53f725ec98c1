/** A numeric bench flag within [min, max], or exit 2 naming the flag (the bench scripts' shared check). */
export function bounded(name: string, v: string, min: number, max: number): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n < min || n > max) {
    process.stderr.write(`--${name} must be a number from ${min} to ${max} (got ${v})\n`);
    process.exit(2);
  }
  return n;
}
