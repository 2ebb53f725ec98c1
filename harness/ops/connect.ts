import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { InputError, RunError } from '../../core/errors.ts';
import { HttpMasterClient } from '../../agent/http-client.ts';
import { explainMasterError, parseMasterUrl } from '../../agent/master-errors.ts';
import { readToken } from '../../core/token-file.ts';

/** How the operator reaches the master: flags first, then FFWATT_* environment variables. */
export interface MasterFlags {
  master?: string;
  tokenFile?: string;
  caCert?: string;
}

export interface MasterConnection {
  url: string;
  client: HttpMasterClient;
  /** GET/POST with the admin token; an HTTP error or an unreachable master becomes a clear error. */
  request<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T>;
  close(): Promise<void>;
}

/** A path flag resolved against the current directory; a missing file is exit 2 naming the flag. */
export function existingPath(value: string | undefined, flag: string): string | undefined {
  if (value === undefined || value === '') return undefined; // an empty FFWATT_* variable is unset
  const path = resolve(value);
  if (!existsSync(path))
    throw new InputError(`${flag} ${value}: no such file (looked for ${path})`, { field: flag, file: path });
  return path;
}

/**
 * Connects with the operator's credentials: `--master` (FFWATT_MASTER), `--token-file`
 * (FFWATT_TOKEN_FILE, the master's admin token), `--ca-cert` (FFWATT_CA_CERT) and, for mTLS,
 * FFWATT_CLIENT_CERT + FFWATT_CLIENT_KEY.
 */
export function connectMaster(f: MasterFlags, env: NodeJS.ProcessEnv = process.env): MasterConnection {
  const url = parseMasterUrl(f.master ?? env.FFWATT_MASTER);
  const tokenFlag = f.tokenFile ? '--token-file' : 'FFWATT_TOKEN_FILE';
  const tokenFile = existingPath(f.tokenFile ?? env.FFWATT_TOKEN_FILE, tokenFlag);
  if (!tokenFile) {
    throw new InputError(
      "no credentials for the master: pass --token-file FILE (the master's admin token) or set FFWATT_TOKEN_FILE",
      { field: '--token-file' },
    );
  }
  const caCert = existingPath(f.caCert ?? env.FFWATT_CA_CERT, f.caCert ? '--ca-cert' : 'FFWATT_CA_CERT');
  const clientCert = existingPath(env.FFWATT_CLIENT_CERT, 'FFWATT_CLIENT_CERT');
  const clientKey = existingPath(env.FFWATT_CLIENT_KEY, 'FFWATT_CLIENT_KEY');
  if (Boolean(clientCert) !== Boolean(clientKey)) {
    throw new InputError(
      'set both FFWATT_CLIENT_CERT and FFWATT_CLIENT_KEY (mTLS client certificate and key) or neither',
      { field: 'FFWATT_CLIENT_CERT' },
    );
  }
  const client = new HttpMasterClient({
    masterUrl: url,
    token: readToken(tokenFile, 'master admin'),
    caCert,
    clientCert,
    clientKey,
  });
  return {
    url,
    client,
    async request<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
      let r: { status: number; body: T & { error?: string } };
      try {
        r = await client.call<T & { error?: string }>(method, path, body);
      } catch (err) {
        throw (
          explainMasterError(err, url, { caCert }) ??
          new RunError(`master ${url} unreachable: ${(err as Error).message}`, err)
        );
      }
      if (r.status === 401)
        throw new InputError(
          `the master ${url} refused the token in ${tokenFlag} ${tokenFile} (HTTP 401): use the admin token the master was started with (its --token-file)`,
          { field: tokenFlag },
        );
      if (r.status === 403)
        throw new InputError(
          `the token in ${tokenFlag} ${tokenFile} is a node token; these commands need the master's admin token`,
          { field: tokenFlag },
        );
      if (r.status === 404)
        throw new InputError(`${r.body?.error ?? `not found: ${path}`} (on ${url})`, { field: path });
      if (r.status >= 400)
        throw new (r.status < 500 ? InputError : RunError)(
          `master ${url}: ${method} ${path}: HTTP ${r.status} ${r.body?.error ?? ''}`.trim(),
        );
      return r.body;
    },
    close: () => client.close(),
  };
}

/** Runs fn with a connection and closes it after. */
export async function withMaster<T>(f: MasterFlags, fn: (m: MasterConnection) => Promise<T>): Promise<T> {
  const m = connectMaster(f);
  try {
    return await fn(m);
  } finally {
    await m.close();
  }
}
