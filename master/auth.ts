import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

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

export type Principal = { kind: 'admin' } | { kind: 'node'; nodeId: string };

/**
 * Who is calling: the admin (bootstrap) token may do everything; a per-node token, issued at
 * registration, may act only for its own node. Node tokens are found by their SHA-256 (the store
 * never holds the token), then compared in constant time like the admin token.
 */
export function authenticate(
  token: string | null,
  adminToken: string,
  nodeByTokenHash: (tokenHash: string) => { nodeId: string; tokenHash: string } | null,
): Principal | null {
  if (!token) return null;
  if (tokensEqual(token, adminToken)) return { kind: 'admin' };
  const h = hashToken(token);
  const n = nodeByTokenHash(h);
  if (n && tokensEqual(h, n.tokenHash)) return { kind: 'node', nodeId: n.nodeId };
  return null;
}
