import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { TLSSocket } from 'node:tls';

/** SHA-256 of a token: what the store keeps for per-node tokens (never the token itself). */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** Constant-time comparison of two secrets (hashing first makes the lengths equal). */
export function tokensEqual(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a, 'utf8').digest();
  const hb = createHash('sha256').update(b, 'utf8').digest();
  return timingSafeEqual(ha, hb);
}

export function newNodeToken(): string {
  return randomBytes(32).toString('base64url');
}

/** The bearer token of an Authorization header, or null. */
export function bearer(header: string | undefined): string | null {
  if (!header) return null;
  const m = /^Bearer\s+(\S+)$/i.exec(header.trim());
  return m ? m[1] : null;
}

/**
 * The three credentials (docs/api.md): the operator's admin token; the registration token, which
 * may only register new nodes; and a node's own credential, issued at registration, which may act
 * only for that node.
 */
export type Principal = { kind: 'admin' } | { kind: 'registration' } | { kind: 'node'; nodeId: string };

export interface MasterSecrets {
  adminToken: string;
  /** Absent: only the admin token can register nodes. */
  registrationToken?: string;
}

/**
 * Who is calling. Node tokens are found by their SHA-256 (the store never holds the token), then
 * compared in constant time like the shared tokens.
 */
export function authenticate(
  token: string | null,
  secrets: MasterSecrets,
  nodeByTokenHash: (tokenHash: string) => { nodeId: string; tokenHash: string } | null,
): Principal | null {
  if (!token) return null;
  // One SHA-256 per request: the shared secrets' digests are computed once per secrets object.
  let d = secretDigests.get(secrets);
  if (!d) {
    d = {
      admin: sha256(secrets.adminToken),
      registration: secrets.registrationToken ? sha256(secrets.registrationToken) : null,
    };
    secretDigests.set(secrets, d);
  }
  const h = sha256(token);
  if (timingSafeEqual(h, d.admin)) return { kind: 'admin' };
  if (d.registration && timingSafeEqual(h, d.registration)) return { kind: 'registration' };
  const hex = h.toString('hex');
  const n = nodeByTokenHash(hex);
  if (n && n.tokenHash.length === hex.length && timingSafeEqual(Buffer.from(hex), Buffer.from(n.tokenHash)))
    return { kind: 'node', nodeId: n.nodeId };
  return null;
}

const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest();
const secretDigests = new WeakMap<MasterSecrets, { admin: Buffer; registration: Buffer | null }>();

/**
 * The identities a verified client certificate names: its subject CN and its DNS/URI/IP
 * subjectAltNames. Empty when the connection carries no certificate.
 */
export function certificateNames(socket: unknown): string[] {
  const tls = socket as Partial<TLSSocket>;
  if (typeof tls.getPeerCertificate !== 'function' || !tls.authorized) return [];
  const cert = tls.getPeerCertificate();
  if (!cert || Object.keys(cert).length === 0) return [];
  const names: string[] = [];
  const cn = cert.subject?.CN;
  if (typeof cn === 'string') names.push(cn);
  else if (Array.isArray(cn)) names.push(...(cn as string[]));
  for (const entry of (cert.subjectaltname ?? '').split(',')) {
    const m = /^\s*(DNS|URI|IP Address):(.+)$/.exec(entry);
    if (m) names.push(m[2].trim());
  }
  return names;
}
