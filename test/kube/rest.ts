// A tiny HTTPS client for talking to the test API server with plain REST calls.
//
// Node's global fetch cannot be given a CA certificate without undici's Agent, so this uses
// node:https with `ca` (the API server's self-signed CA) and a bearer token. Deliberately minimal:
// tests that need informers use @kubernetes/client-node with the kubeconfig instead.
import { request } from 'node:https';
import type { IncomingHttpHeaders } from 'node:http';

export interface KubeEndpoint {
  /** https://127.0.0.1:PORT */
  readonly url: string;
  /** PEM of the CA that signed the API server's serving certificate. */
  readonly caPem: string;
}

export interface KubeRequest {
  /** Path and query, e.g. `/api/v1/namespaces/default/configmaps?labelSelector=a%3Db`. */
  path: string;
  method?: string;
  /** Bearer token; none sends an anonymous request. */
  token?: string;
  /** Sent as JSON unless it is a string (then as is, with `contentType`). */
  body?: unknown;
  /** Default `application/json`; use `application/merge-patch+json` etc. for PATCH. */
  contentType?: string;
  timeoutMs?: number;
}

export interface KubeResponse {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  /** The body parsed as JSON (throws, with the body, when it is not JSON). The type parameter is
   * an unchecked assertion, for tests. */
  json<T = unknown>(): T;
}

export function kubeRequest(endpoint: KubeEndpoint, req: KubeRequest): Promise<KubeResponse> {
  const method = req.method ?? (req.body === undefined ? 'GET' : 'POST');
  const payload =
    req.body === undefined ? undefined : typeof req.body === 'string' ? req.body : JSON.stringify(req.body);
  const headers: Record<string, string> = { accept: 'application/json' };
  if (req.token !== undefined) headers.authorization = `Bearer ${req.token}`;
  if (payload !== undefined) {
    headers['content-type'] = req.contentType ?? 'application/json';
    headers['content-length'] = String(Buffer.byteLength(payload));
  }
  const url = new URL(req.path, endpoint.url);
  return new Promise<KubeResponse>((resolve, reject) => {
    const clientRequest = request(
      url,
      { method, headers, ca: endpoint.caPem, agent: false, timeout: req.timeoutMs ?? 10_000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            text,
            json<T = unknown>(): T {
              try {
                return JSON.parse(text) as T;
              } catch {
                throw new Error(`${method} ${req.path}: HTTP ${res.statusCode} body is not JSON: ${text.slice(0, 500)}`);
              }
            },
          });
        });
      },
    );
    clientRequest.on('timeout', () => clientRequest.destroy(new Error(`${method} ${req.path}: timed out`)));
    clientRequest.on('error', reject);
    clientRequest.end(payload);
  });
}

/** Like kubeRequest, but throws (with the status and body) unless the status is 2xx; returns the
 * parsed JSON body. */
export async function kubeJson<T = unknown>(endpoint: KubeEndpoint, req: KubeRequest): Promise<T> {
  const res = await kubeRequest(endpoint, req);
  if (res.status < 200 || res.status > 299) {
    throw new Error(`${req.method ?? (req.body === undefined ? 'GET' : 'POST')} ${req.path}: HTTP ${res.status}: ${res.text.slice(0, 1000)}`);
  }
  return res.json<T>();
}
