// The validating admission webhook: HTTPS on its own port, called by the API server with an
// AdmissionReview for each labelled ConfigMap created or updated (deploy/control-plane/webhook.yaml).
// The serving certificate comes from files and is swapped in when they change: a request in progress
// finishes on its connection, idle connections are closed, new handshakes get the new certificate.
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../observe/log.ts';
import type { CertificateFiles } from '../tls/certificate-files.ts';
import { admissionResponse, admissionReviewSchema, type Verdict } from './admission-review.ts';
import { admitConfigMap, MalformedAdmissionRequest, type AdmissionContext } from './configmap-admission.ts';

export const WEBHOOK_PATH = '/validate-configmap';

/** Largest request body read. An AdmissionReview of an UPDATE holds the ConfigMap twice (object
 * and oldObject), each at most 1 MiB of data plus metadata, a little longer once JSON-escaped. */
export const MAX_BODY_BYTES = 4 * 1024 * 1024;
/** Requests handled at once; more get 429 (the API server applies the failure policy). Bounds the
 * memory held in request bodies to MAX_IN_FLIGHT × MAX_BODY_BYTES. */
const MAX_IN_FLIGHT = 8;
/** The API server gives up after the webhook's timeoutSeconds (5 s in deploy/); a slower client is
 * not the API server. */
const REQUEST_TIMEOUT_MS = 10_000;

export interface AdmissionWebhookOptions {
  address: string;
  /** 0 picks a free port. */
  port: number;
  certificates: CertificateFiles;
  context: AdmissionContext;
  logger: Logger;
}

export interface AdmissionWebhook {
  port: number;
  close(): Promise<void>;
}

export async function startAdmissionWebhook(o: AdmissionWebhookOptions): Promise<AdmissionWebhook> {
  const log = o.logger.child({ component: 'admission-webhook' });
  const tls = (c: { cert: Buffer; key: Buffer }) => ({ cert: c.cert, key: c.key, minVersion: 'TLSv1.2' as const });
  let inFlight = 0;
  const server = https.createServer(tls(o.certificates.current()), (req, res) => {
    if (inFlight >= MAX_IN_FLIGHT) return reply(res, 429, 'too many admission requests at once\n');
    inFlight++;
    res.once('close', () => inFlight--);
    handle(req, res, o.context, log).catch((e: unknown) => {
      log.error({ err: (e as Error).message }, 'admission request failed (a bug)');
      if (!res.headersSent) reply(res, 500, 'internal error\n');
    });
  });
  server.requestTimeout = REQUEST_TIMEOUT_MS;
  server.headersTimeout = REQUEST_TIMEOUT_MS;
  // Failed handshakes (a port scan, a client that does not trust our CA) are the client's problem.
  server.on('tlsClientError', () => {});
  const unsubscribe = o.certificates.onChange((c) => {
    server.setSecureContext(tls(c));
    // Idle keep-alive connections would go on with the old certificate: the next call handshakes anew.
    server.closeIdleConnections();
  });

  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.address, () => {
      server.off('error', reject);
      const a = server.address();
      resolve(typeof a === 'object' && a ? a.port : o.port);
    });
  });
  return {
    port,
    close: () => new Promise<void>((resolve) => {
      unsubscribe();
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

async function handle(req: IncomingMessage, res: ServerResponse, context: AdmissionContext, log: Logger): Promise<void> {
  if ((req.url ?? '').split('?')[0] !== WEBHOOK_PATH) return reply(res, 404, `not found; the webhook is POST ${WEBHOOK_PATH}\n`);
  if (req.method !== 'POST') return reply(res, 405, 'only POST\n');
  if (!/^application\/json\b/i.test(req.headers['content-type'] ?? '')) return reply(res, 415, 'expected content-type application/json\n');
  const body = await readBody(req);
  if (body === undefined) return reply(res, 413, `request body over ${MAX_BODY_BYTES} bytes\n`, true);

  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch {
    return reply(res, 400, 'the body is not JSON: expected an AdmissionReview (admission.k8s.io/v1)\n');
  }
  const review = admissionReviewSchema.safeParse(json);
  if (!review.success) {
    // Paths and zod's messages only: nothing of the request (which may hold anything) is echoed.
    const where = review.error.issues.slice(0, 3).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    return reply(res, 400, `not an AdmissionReview (admission.k8s.io/v1): ${where}\n`);
  }
  const r = review.data.request;
  let verdict: Verdict;
  try {
    verdict = await admitConfigMap(r, context);
  } catch (e) {
    if (e instanceof MalformedAdmissionRequest) return reply(res, 400, `${e.message}\n`);
    throw e;
  }
  const subject = { uid: r.uid, operation: r.operation, kind: r.kind.kind, namespace: r.namespace, name: r.name };
  if (verdict.allowed) log.debug({ ...subject, allowed: true }, 'admission review');
  else log.info({ ...subject, allowed: false, message: verdict.message }, 'admission review: refused');
  reply(res, 200, JSON.stringify(admissionResponse(r.uid, verdict)), false, 'application/json');
}

/** The body, or undefined as soon as it passes MAX_BODY_BYTES (nothing more is kept). */
function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > MAX_BODY_BYTES) return Promise.resolve(undefined);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      if (size > MAX_BODY_BYTES) return;
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        chunks.length = 0;
        resolve(undefined);
      } else chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function reply(res: ServerResponse, code: number, body: string, close = false, type = 'text/plain'): void {
  // After a refused body the connection is closed rather than drained.
  res.writeHead(code, { 'content-type': type, ...(close ? { connection: 'close' } : {}) });
  res.end(body);
}
