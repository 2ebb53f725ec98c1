import { InputError } from '../core/errors.ts';

/**
 * A `--master` value as a URL, or exit 2 naming the flag: only http(s)://HOST:PORT is a master.
 */
export function parseMasterUrl(value: string | undefined, flag = '--master'): string {
  const example = 'e.g. https://master.example:8443 (or http://127.0.0.1:8080 on one box)';
  if (!value)
    throw new InputError(`${flag} is missing: give the master's URL, ${example}, or set FFWATT_MASTER`, {
      field: flag,
    });
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InputError(`${flag} "${value}" is not a URL: write it with the scheme, ${example}`, { field: flag });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new InputError(`${flag} "${value}" must start with http:// or https://, ${example}`, { field: flag });
  }
  return value.replace(/\/+$/, '');
}

const CERT_UNTRUSTED = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_GET_ISSUER_CERT',
  'CERT_UNTRUSTED',
]);

/** The most specific error code in the cause chain (undici wraps socket errors). */
function codeOf(err: unknown): string | undefined {
  const codes: string[] = [];
  for (
    let e = err as { code?: unknown; cause?: unknown } | undefined, depth = 0;
    e && typeof e === 'object' && depth < 5;
    e = e.cause as typeof e, depth++
  ) {
    if (typeof e.code === 'string') codes.push(e.code);
  }
  return codes.find((c) => c !== 'UND_ERR_SOCKET') ?? codes[0];
}

/**
 * A failed connection to the master as a mistake in the flags, with the fix (exit 2), or null
 * when it is not one (a master that is down mid-run, a timeout).
 */
export function explainMasterError(
  err: unknown,
  masterUrl: string,
  flags: { caCert?: string } = {},
): InputError | null {
  const code = codeOf(err);
  const message = (err as Error)?.message ?? String(err);
  const url = new URL(masterUrl);
  const where = `${url.hostname}:${url.port || (url.protocol === 'https:' ? 443 : 80)}`;
  const field = '--master';
  if (code === 'ECONNREFUSED') {
    return new InputError(
      `nothing listens at --master ${masterUrl} (connection refused on ${where}): start the master (ffwatt master --listen ${where} ...) or correct the host/port`,
      { field },
    );
  }
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    return new InputError(
      `--master ${masterUrl}: host ${url.hostname} is not known (DNS): check the name or use its IP address`,
      { field },
    );
  }
  if (code === 'ERR_SSL_WRONG_VERSION_NUMBER' || /wrong version number/i.test(message)) {
    return new InputError(
      `--master ${masterUrl} speaks plain HTTP, not TLS: write http://${where} (or start the master with --tls-cert/--tls-key)`,
      { field },
    );
  }
  if (url.protocol === 'http:' && (code === 'UND_ERR_SOCKET' || code === 'ECONNRESET')) {
    return new InputError(
      `--master ${masterUrl} closed the connection on plain HTTP: a master with TLS wants https://${where}`,
      { field },
    );
  }
  if (code && CERT_UNTRUSTED.has(code)) {
    return new InputError(
      `--master ${masterUrl}: the master's certificate is not trusted (${code})${flags.caCert ? ` by --ca-cert ${flags.caCert}` : ''}: pass --ca-cert with the CA that signed it (docs/fleet.md), or set FFWATT_CA_CERT`,
      { field: '--ca-cert' },
    );
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return new InputError(
      `--master ${masterUrl}: the master's certificate is not for ${url.hostname}: use a name or IP in its subjectAltName, or reissue it with that name (docs/fleet.md)`,
      { field: '--master' },
    );
  }
  if (code === 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED' || /certificate required/i.test(message)) {
    return new InputError(
      `--master ${masterUrl} requires a client certificate (mTLS): set FFWATT_CLIENT_CERT and FFWATT_CLIENT_KEY (agents: --client-cert/--client-key)`,
      { field: '--master' },
    );
  }
  return null;
}
