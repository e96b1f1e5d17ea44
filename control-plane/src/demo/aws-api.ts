// A stand-in AWS API, for the recipes and the tests: it recomputes every request's SigV4 signature
// (sigv4.ts) with the keys it knows and answers as AWS would — 200 JSON echoing the request when the
// signature holds, 403 {"error": "SignatureDoesNotMatch", "reason": ...} when not — and counts both.
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { verify, type Keys, type Verdict } from './sigv4.ts';
import { onRequestBody } from './request-body.ts';

export interface AwsApiRequest {
  method: string;
  target: string;
  headers: Record<string, string>;
  body: string;
  verdict: Verdict;
}

export interface StartAwsApiOptions {
  name: string;
  /** Access key id → its secret (and session token, if the keys are temporary ones). */
  keys: ReadonlyMap<string, Keys>;
  region: string;
  service: string;
  /** Whether x-amz-content-sha256: UNSIGNED-PAYLOAD is accepted (S3 accepts it). Default false. */
  allowUnsignedPayload?: boolean;
  /** 0 (default): a free port. */
  port?: number;
}

export interface AwsApi {
  readonly port: number;
  readonly requests: readonly AwsApiRequest[];
  /** Requests whose signature held, and the others. */
  readonly verified: number;
  readonly rejected: number;
  reset(): void;
  close(): Promise<void>;
}

const MAX_BODY = 1024 * 1024;

function pairs(req: IncomingMessage): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) out.push([req.rawHeaders[i] ?? '', req.rawHeaders[i + 1] ?? '']);
  return out;
}

export async function startAwsApi(o: StartAwsApiOptions): Promise<AwsApi> {
  const requests: AwsApiRequest[] = [];
  const server = createServer((req, res) => {
    onRequestBody(req, MAX_BODY, (body) => {
      const signable = { method: req.method ?? 'GET', target: req.url ?? '/', headers: pairs(req), body };
      const verdict = verify(signable, o.keys, { region: o.region, service: o.service, allowUnsignedPayload: o.allowUnsignedPayload ?? false });
      const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : v ?? '']));
      requests.push({ method: signable.method, target: signable.target, headers, body: body.toString('utf8'), verdict });
      const answer = verdict.ok
        ? { status: 200, body: { upstream: o.name, verified: true, accessKeyId: verdict.accessKeyId, signedHeaders: verdict.signedHeaders, payload: verdict.payload, method: signable.method, path: signable.target, headers } }
        : { status: 403, body: { upstream: o.name, error: 'SignatureDoesNotMatch', reason: verdict.reason } };
      const text = JSON.stringify(answer.body);
      res.writeHead(answer.status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      res.end(text);
    });
  });
  server.keepAliveTimeout = 10 * 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: o.port ?? 0 }, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    requests,
    get verified() { return requests.filter((r) => r.verdict.ok).length; },
    get rejected() { return requests.filter((r) => !r.verdict.ok).length; },
    reset() { requests.length = 0; },
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
