// A stand-in OAuth2 authorization server, for the recipes and the tests: the token endpoint of the
// client-credentials grant (RFC 6749 §4.4) for one client. It records every token request (how the
// client authenticated, whether it was granted), issues numbered tokens ("token-1", "token-2", …)
// with the expires_in it is told, and answers like a real one: 401 invalid_client for a wrong id or
// secret, 400 unsupported_grant_type for another grant.
//
//   const idp = await startTokenEndpoint({ clientId: 'app', clientSecrets: ['s3cr3t'], expiresIn: 3600 });
//   idp.requests.length        // token requests so far
//   idp.issued.at(-1)          // the newest token
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { onRequestBody } from './request-body.ts';

export interface TokenRequest {
  /** When it arrived (Date.now()). */
  at: number;
  /** How the client presented its credentials: an Authorization: Basic header, the form body, or not at all. */
  clientAuth: 'basic' | 'body' | 'none';
  clientId: string | undefined;
  /** Which of the accepted client secrets was presented (its index), or -1 (the secret itself is not kept). */
  secret: number;
  grantType: string | undefined;
  scope: string | undefined;
  /** The Host header and, over TLS, the SNI the client sent. */
  host: string | undefined;
  servername: string | null;
  /** The answer's status, and the token issued (200 only). */
  status: number;
  token?: string;
}

export interface StartTokenEndpointOptions {
  clientId: string;
  /** Client secrets accepted (more than one while a secret is being rotated). */
  clientSecrets: readonly string[];
  /** expires_in of the tokens issued, in seconds. */
  expiresIn: number;
  /** Path of the token endpoint; other paths answer 404. Default /oauth2/token. */
  path?: string;
  /** 0 (default): a free port. */
  port?: number;
  /** Serve HTTPS with this certificate and key (PEM). */
  tls?: { cert: string; key: string };
}

export interface TokenEndpoint {
  readonly port: number;
  readonly requests: readonly TokenRequest[];
  /** Every token issued, oldest first. */
  readonly issued: readonly string[];
  /** Changes which secrets are accepted, the lifetime of the next tokens, or makes every request
   * answer 503 (an outage), from now on. */
  configure(o: { clientSecrets?: readonly string[]; expiresIn?: number; unavailable?: boolean }): void;
  close(): Promise<void>;
}

const MAX_BODY = 64 * 1024;

/** Basic credentials are form-urlencoded before base64 (RFC 6749 §2.3.1). */
function basicCredentials(header: string | undefined): { id: string; secret: string } | undefined {
  const m = /^Basic ([A-Za-z0-9+/=]+)$/i.exec(header ?? '');
  if (!m?.[1]) return undefined;
  const text = Buffer.from(m[1], 'base64').toString('utf8');
  const colon = text.indexOf(':');
  if (colon < 0) return undefined;
  const decode = (s: string) => decodeURIComponent(s.replaceAll('+', ' '));
  try {
    return { id: decode(text.slice(0, colon)), secret: decode(text.slice(colon + 1)) };
  } catch {
    return undefined;
  }
}

export async function startTokenEndpoint(o: StartTokenEndpointOptions): Promise<TokenEndpoint> {
  const path = o.path ?? '/oauth2/token';
  let secrets = [...o.clientSecrets];
  let expiresIn = o.expiresIn;
  let unavailable = false;
  const requests: TokenRequest[] = [];
  const issued: string[] = [];

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    onRequestBody(req, MAX_BODY, (body) => {
      const answer = (status: number, body: object) => {
        const text = JSON.stringify(body);
        res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text) });
        res.end(text);
      };
      if (req.method !== 'POST' || (req.url ?? '') !== path) {
        answer(404, { error: 'not_found' });
        return;
      }
      const form = new URLSearchParams(body.toString('utf8'));
      const basic = basicCredentials(req.headers.authorization);
      const clientAuth = basic ? 'basic' : form.has('client_secret') ? 'body' : 'none';
      const clientId = basic?.id ?? form.get('client_id') ?? undefined;
      const secret = basic?.secret ?? form.get('client_secret') ?? undefined;
      const seen: TokenRequest = {
        at: Date.now(),
        clientAuth,
        clientId,
        secret: secret === undefined ? -1 : secrets.indexOf(secret),
        grantType: form.get('grant_type') ?? undefined,
        scope: form.get('scope') ?? undefined,
        host: req.headers.host,
        servername: 'servername' in req.socket ? ((req.socket as TLSSocket).servername || null) : null,
        status: 200,
      };
      requests.push(seen);
      if (unavailable) {
        seen.status = 503;
        answer(503, { error: 'temporarily_unavailable' });
      } else if (seen.grantType !== 'client_credentials') {
        seen.status = 400;
        answer(400, { error: 'unsupported_grant_type' });
      } else if (clientId !== o.clientId || seen.secret < 0) {
        seen.status = 401;
        answer(401, { error: 'invalid_client' });
      } else {
        const token = `token-${issued.length + 1}`;
        issued.push(token);
        seen.token = token;
        answer(200, { access_token: token, token_type: 'Bearer', expires_in: expiresIn });
      }
    });
  };

  const server = o.tls ? createHttpsServer({ cert: o.tls.cert, key: o.tls.key }, handle) : createHttpServer(handle);
  server.keepAliveTimeout = 10 * 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: o.port ?? 0 }, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    requests,
    issued,
    configure(c) {
      if (c.clientSecrets) secrets = [...c.clientSecrets];
      if (c.expiresIn !== undefined) expiresIn = c.expiresIn;
      if (c.unavailable !== undefined) unavailable = c.unavailable;
    },
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
