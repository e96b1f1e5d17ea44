// A JWT's expiry and audiences, read WITHOUT checking its signature: only to refuse garbage before
// it costs a TokenReview, and to know how long a verified answer may be cached. Whose a token is
// comes from the API server, never from here.

/** Kubernetes ServiceAccount tokens are 1-2 KB; anything far larger is not one. */
const MAX_TOKEN_LENGTH = 16 * 1024;

export interface UnverifiedClaims {
  /** The `exp` claim, in milliseconds since the epoch. */
  expiresAtMs: number;
  audiences: readonly string[];
}

export function unverifiedClaims(token: string): UnverifiedClaims | { problem: string } {
  if (token.length > MAX_TOKEN_LENGTH) return { problem: `the token is ${token.length} characters long, not a ServiceAccount token` };
  const parts = token.split('.');
  if (parts.length !== 3 || parts.some((p) => !/^[A-Za-z0-9_-]+$/.test(p))) return { problem: 'the token is not a JWT (three base64url parts)' };
  const header = decodePart(parts[0] ?? '');
  const payload = decodePart(parts[1] ?? '');
  if (!header || typeof header.alg !== 'string' || header.alg === 'none') return { problem: 'the token is not a signed JWT' };
  if (!payload) return { problem: 'the token\'s claims are not a JSON object' };
  const { exp, aud } = payload;
  if (typeof exp !== 'number' || !Number.isFinite(exp)) return { problem: 'the token has no expiry (exp): mount a projected ServiceAccount token, not a legacy Secret token' };
  const audiences = typeof aud === 'string' ? [aud] : Array.isArray(aud) && aud.every((a) => typeof a === 'string') ? (aud as string[]) : undefined;
  if (!audiences) return { problem: 'the token has no audience (aud)' };
  return { expiresAtMs: exp * 1000, audiences };
}

function decodePart(part: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
