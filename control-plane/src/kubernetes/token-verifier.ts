// Whose a Kubernetes ServiceAccount token is, asked of the API server (TokenReview,
// authentication.k8s.io/v1) for one dedicated audience, so that a token minted for anything else
// (another service, the API server itself) is refused. The server side of the xDS port sees only
// the BearerTokenVerifier interface.
//
// Cost control, since whoever reaches the xDS port can send any token:
// - cheap checks first (a JWT at all, not expired, our audience): garbage never costs an API call;
// - answers are cached by the token's hash (the token itself is never kept): accepted ones until
//   the token expires, at most ACCEPTED_TTL_MS; refused ones for REFUSED_TTL_MS; both bounded;
// - one review per token at a time, at most MAX_CONCURRENT at once and MAX_WAITING queued; past
//   that, and when the API server cannot be asked, the answer is authenticator_unavailable (not
//   "invalid": the token may well be good).
import { createHash } from 'node:crypto';
import {
  ApiException, AuthenticationV1Api, Observable,
  type KubeConfig, type ObservableMiddleware, type RequestContext, type ResponseContext, type V1TokenReview,
} from '@kubernetes/client-node';
import type { Logger } from '../observe/log.ts';
import type { AuthResult, BearerTokenVerifier, Identity } from '../server/auth/identity.ts';
import { ExpiringCache } from './expiring-cache.ts';
import { unverifiedClaims } from './unverified-jwt.ts';

/** An accepted token is asked about again after this long even if it lives longer: a deleted Pod's
 * token (or a deleted ServiceAccount's) stops working within this time. */
const ACCEPTED_TTL_MS = 5 * 60_000;
/** A refused token is not asked about again for this long. */
const REFUSED_TTL_MS = 10_000;
const MAX_CACHED = 10_000;
const MAX_CONCURRENT = 8;
const MAX_WAITING = 256;
const REVIEW_TIMEOUT_MS = 5_000;
/** At most one warning per this interval while the API server cannot be asked. */
const WARN_EVERY_MS = 10_000;

const POD_NAME = 'authentication.kubernetes.io/pod-name';

type Refusal = Extract<AuthResult, { ok: false }>;

export interface TokenReviewVerifierOptions {
  kubeConfig: KubeConfig;
  /** Only tokens minted for this audience are accepted (DEFAULT_TOKEN_AUDIENCE of cli/xds-security.ts in deploy/). */
  audience: string;
  logger: Logger;
}

export class TokenReviewVerifier implements BearerTokenVerifier {
  readonly #api: AuthenticationV1Api;
  readonly #audience: string;
  readonly #log: Logger;
  readonly #accepted = new ExpiringCache<Identity>(MAX_CACHED);
  readonly #refused = new ExpiringCache<Refusal>(MAX_CACHED);
  readonly #inFlight = new Map<string, Promise<AuthResult>>();
  readonly #waiting: (() => void)[] = [];
  #running = 0;
  #lastWarningMs = -Infinity;

  constructor(o: TokenReviewVerifierOptions) {
    this.#api = o.kubeConfig.makeApiClient(AuthenticationV1Api);
    this.#audience = o.audience;
    this.#log = o.logger.child({ component: 'token-review' });
  }

  async verify(token: string): Promise<AuthResult> {
    if (token === '') return { ok: false, reason: 'no_credentials', message: 'the bearer token is empty' };
    const claims = unverifiedClaims(token);
    if ('problem' in claims) return invalid(claims.problem);
    const now = Date.now();
    if (claims.expiresAtMs <= now) return invalid(`the token expired at ${new Date(claims.expiresAtMs).toISOString()}`);
    if (!claims.audiences.includes(this.#audience)) {
      return invalid(`the token is for ${describeAudiences(claims.audiences)}, not "${this.#audience}": mount a projected ServiceAccount token with audience "${this.#audience}"`);
    }
    const key = createHash('sha256').update(token).digest('base64url');
    const accepted = this.#accepted.get(key, now);
    if (accepted) return { ok: true, identity: accepted };
    const refused = this.#refused.get(key, now);
    if (refused) return refused;
    let pending = this.#inFlight.get(key);
    if (!pending) {
      pending = this.#review(token, key, claims.expiresAtMs).finally(() => this.#inFlight.delete(key));
      this.#inFlight.set(key, pending);
    }
    return pending;
  }

  async #review(token: string, key: string, expiresAtMs: number): Promise<AuthResult> {
    if (this.#running < MAX_CONCURRENT) this.#running++;
    else if (this.#waiting.length >= MAX_WAITING) return unavailable('too many token reviews at once; retry shortly');
    else await new Promise<void>((resolve) => this.#waiting.push(resolve)); // a finishing review hands its slot over
    try {
      return await this.#ask(token, key, expiresAtMs);
    } finally {
      const next = this.#waiting.shift();
      if (next) next();
      else this.#running--;
    }
  }

  async #ask(token: string, key: string, expiresAtMs: number): Promise<AuthResult> {
    let review: V1TokenReview;
    try {
      review = await this.#api.createTokenReview(
        { body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token, audiences: [this.#audience] } } },
        { middleware: [timeout(REVIEW_TIMEOUT_MS)], middlewareMergeStrategy: 'append' },
      );
    } catch (e) {
      return this.#unavailable(e);
    }
    const now = Date.now();
    const refuse = (message: string): Refusal => {
      const r = invalid(message);
      this.#refused.set(key, r, now + REFUSED_TTL_MS);
      return r;
    };
    const status = review.status;
    if (status?.authenticated !== true) return refuse(`the API server does not accept the token${status?.error ? ` (${short(status.error)})` : ''}`);
    if (!status.audiences?.includes(this.#audience)) return refuse(`the API server accepts the token, but not for audience "${this.#audience}"`);
    const username = status.user?.username ?? '';
    const sa = /^system:serviceaccount:([^:]+):([^:]+)$/.exec(username);
    if (!sa?.[1] || !sa[2]) return refuse(`the token is not a ServiceAccount's (user ${JSON.stringify(short(username))})`);
    // A token bound to a Pod names it; one bound to a Secret or to nothing names no node.
    const pod = status.user?.extra?.[POD_NAME]?.[0];
    const identity: Identity = { namespace: sa[1], serviceAccount: sa[2], ...(pod ? { nodeId: pod } : {}), method: 'token', expiresAt: new Date(expiresAtMs) };
    this.#accepted.set(key, identity, Math.min(expiresAtMs, now + ACCEPTED_TTL_MS));
    return { ok: true, identity };
  }

  #unavailable(e: unknown): Refusal {
    let why: string;
    if (e instanceof ApiException) {
      why = `HTTP ${e.code}${e.code === 403 ? ': grant the control plane\'s ServiceAccount "create" on tokenreviews.authentication.k8s.io (deploy/control-plane/rbac.yaml)' : ''}`;
    } else if (e instanceof Error && (e.name === 'TimeoutError' || e.name === 'AbortError')) {
      why = `no answer within ${REVIEW_TIMEOUT_MS / 1000} s`;
    } else {
      const cause = e instanceof Error && e.cause instanceof Error ? ` (${(e.cause as NodeJS.ErrnoException).code ?? e.cause.message})` : '';
      why = `${e instanceof Error ? e.message : String(e)}${cause}`;
    }
    const now = Date.now();
    if (now - this.#lastWarningMs >= WARN_EVERY_MS) {
      this.#lastWarningMs = now;
      this.#log.warn({ err: why }, 'cannot ask the API server whose a ServiceAccount token is (TokenReview); clients with tokens not seen before are refused until it answers');
    }
    return unavailable(`TokenReview failed: ${why}`);
  }
}

function invalid(message: string): Refusal {
  return { ok: false, reason: 'invalid_credentials', message };
}

function unavailable(message: string): Refusal {
  return { ok: false, reason: 'authenticator_unavailable', message };
}

/** Attacker-chosen text, bounded before it reaches a message or a log line. */
function short(s: string): string {
  return s.length > 200 ? `${s.slice(0, 197)}...` : s;
}

function describeAudiences(audiences: readonly string[]): string {
  if (audiences.length === 0) return 'no audience';
  const shown = audiences.slice(0, 3).map((a) => JSON.stringify(a.length > 64 ? `${a.slice(0, 61)}...` : a));
  return `audience ${shown.join(', ')}${audiences.length > 3 ? ', …' : ''}`;
}

/** Aborts a request that has no answer after `ms`. */
function timeout(ms: number): ObservableMiddleware {
  return {
    pre: (ctx: RequestContext) => {
      ctx.setSignal(AbortSignal.timeout(ms));
      return new Observable(Promise.resolve(ctx));
    },
    post: (ctx: ResponseContext) => new Observable(Promise.resolve(ctx)),
  };
}
