import { readFileSync } from 'node:fs';
import { InputError } from './errors.ts';

/** A bearer token from its file (admin, registration, node credential), refused when too short to be secret. */
export function readToken(file: string, what: string): string {
  let token: string;
  try {
    token = readFileSync(file, 'utf8').trim();
  } catch (err) {
    throw new InputError(`cannot read ${what} token file ${file}: ${(err as Error).message}`, { file });
  }
  if (token.length < 16)
    throw new InputError(
      `${what} token in ${file} is too short (${token.length} chars; use at least 16, e.g. openssl rand -hex 32)`,
      { file },
    );
  return token;
}
