import { InvalidArgumentError } from 'commander';

// Numeric flags parsed by commander itself (`.option(flags, help, parser, default)`): a bad value
// stops the parse before anything runs, commander prints the message naming the flag, and the CLI
// exits 2 (cli: every CommanderError but help is bad input).

type Bound = 'positive' | 'non-negative';

/** Parser of a numeric flag: finite, positive or >= 0, optionally an integer. */
export function numberArg(
  flag: string,
  bound: Bound = 'positive',
  opts: { integer?: boolean; max?: number } = {},
): (value: string) => number {
  const what = `${opts.integer ? 'an integer' : 'a number'} ${bound === 'positive' ? '> 0' : '>= 0'}${opts.max !== undefined ? ` and <= ${opts.max}` : ''}`;
  return (value: string) => {
    const n = Number(value);
    const ok =
      value.trim() !== '' &&
      Number.isFinite(n) &&
      (bound === 'positive' ? n > 0 : n >= 0) &&
      (!opts.integer || Number.isInteger(n)) &&
      (opts.max === undefined || n <= opts.max);
    if (!ok) throw new InvalidArgumentError(`${flag} must be ${what} (got "${value}")`);
    return n;
  };
}
