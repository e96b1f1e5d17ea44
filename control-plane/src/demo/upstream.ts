// A demo / test HTTP upstream. Every normal answer is 200 JSON naming the upstream and echoing the
// request, so a caller (a test, the demo) can tell which upstream answered and which headers
// arrived there:
//   {"upstream": "v1", "path": "/x?y=1", "method": "GET", "headers": {"x-canary": "1", ...}}
// Failures and latency can be injected with setBehaviour().
// tls-upstream.ts serves the same answers over HTTPS (serveUpstream below is the shared part).
import { createServer } from 'node:http';
import type { IncomingHttpHeaders, IncomingMessage, Server as HttpServer, ServerResponse } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { onRequestBody } from './request-body.ts';

export interface UpstreamRequest {
  method: string;
  /** Path with query string, as received. */
  path: string;
  /** Header names lowercased; repeated headers joined as Node does. */
  headers: Record<string, string>;
  /** The request body as UTF-8 text. */
  body: string;
  /** The status this upstream answered with. */
  status: number;
}

export interface UpstreamBehaviour {
  /** The next N requests answer `failStatus`. */
  failNext?: number;
  /** Status for injected failures. Default 503. */
  failStatus?: number;
  /** Delay before every response, in ms. */
  delayMs?: number;
  /** Extra headers on every normal answer (e.g. cache-control). */
  headers?: Record<string, string>;
}

export interface StartUpstreamOptions {
  /** Reported in every answer ("upstream" field). */
  name: string;
  /** 0 (default): a free port. */
  port?: number;
  /** Only loopback. */
  host?: '127.0.0.1';
}

export interface Upstream<R extends UpstreamRequest = UpstreamRequest> {
  readonly name: string;
  readonly port: number;
  readonly host: string;
  /** Every request seen, oldest first (injected failures included). */
  readonly requests: R[];
  /** Changes only the fields given. */
  setBehaviour(behaviour: UpstreamBehaviour): void;
  /** Forgets the requests seen and restores normal behaviour. */
  reset(): void;
  /** Stops listening and closes every connection, idle keep-alive ones included. */
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 1024 * 1024;

function flattenHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [key, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    result[key.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  }
  return result;
}

export async function startUpstream(options: StartUpstreamOptions): Promise<Upstream> {
  return serveUpstream(createServer(), options, () => ({}));
}

/**
 * The shared part of startUpstream and startTlsUpstream: answers every request of `server` (HTTP or
 * HTTPS, created without a request listener) as described at the top of this file, listens on
 * `options.host`:`options.port` and returns the handle. `describe(req)` adds fields of its own to
 * each recorded request and to each JSON answer (e.g. the TLS details of the connection).
 */
export async function serveUpstream<E extends object>(
  server: HttpServer | HttpsServer,
  options: StartUpstreamOptions,
  describe: (req: IncomingMessage) => E,
): Promise<Upstream<UpstreamRequest & E>> {
  const { name } = options;
  const host = options.host ?? '127.0.0.1';
  const requests: (UpstreamRequest & E)[] = [];
  let failNext = 0;
  let failStatus = 503;
  let delayMs = 0;
  let extraHeaders: Record<string, string> = {};
  const pendingTimers = new Set<NodeJS.Timeout>();

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    // Read now: the connection's details may be gone once the body has arrived.
    const extra = describe(req);
    onRequestBody(req, MAX_BODY_BYTES, (body) => {
      let status = 200;
      let payload: Record<string, unknown>;
      const method = req.method ?? 'GET';
      const path = req.url ?? '/';
      const headers = flattenHeaders(req.headers);
      if (failNext > 0) {
        failNext -= 1;
        status = failStatus;
        payload = { upstream: name, error: 'injected failure', status, path, method, ...extra };
      } else {
        payload = { upstream: name, path, method, headers, ...extra };
      }
      requests.push({ method, path, headers, body: body.toString('utf8'), status, ...extra });
      const text = JSON.stringify(payload);
      const send = (): void => {
        if (res.destroyed) return;
        res.writeHead(status, {
          ...(status === 200 ? extraHeaders : {}),
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(text),
          'x-upstream': name,
        });
        res.end(text);
      };
      if (delayMs > 0) {
        const timer = setTimeout(() => {
          pendingTimers.delete(timer);
          send();
        }, delayMs);
        pendingTimers.add(timer);
      } else {
        send();
      }
    });
  };

  server.on('request', handle);
  // Envoy pools upstream connections and reuses idle ones for a long time. If this server closed
  // an idle connection first (Node's default is after 5 s), a request Envoy sends on it at that
  // moment would fail with a reset: keep idle connections open, Envoy decides when to drop them.
  server.keepAliveTimeout = 10 * 60_000;
  server.headersTimeout = 60_000;
  server.requestTimeout = 0;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port: options.port ?? 0 }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;

  let closing: Promise<void> | undefined;
  return {
    name,
    port,
    host,
    requests,
    setBehaviour(behaviour: UpstreamBehaviour): void {
      if (behaviour.failNext !== undefined) failNext = behaviour.failNext;
      if (behaviour.failStatus !== undefined) failStatus = behaviour.failStatus;
      if (behaviour.delayMs !== undefined) delayMs = behaviour.delayMs;
      if (behaviour.headers !== undefined) extraHeaders = { ...behaviour.headers };
    },
    reset(): void {
      requests.length = 0;
      failNext = 0;
      failStatus = 503;
      delayMs = 0;
      extraHeaders = {};
    },
    close(): Promise<void> {
      closing ??= new Promise<void>((resolve, reject) => {
        for (const timer of pendingTimers) clearTimeout(timer);
        pendingTimers.clear();
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
