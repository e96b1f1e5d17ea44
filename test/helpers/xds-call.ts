// What the raw xDS test clients (ads-client.ts: State-of-the-World, delta-client.ts: Delta) share:
// a gRPC bidi stream over a real socket to 127.0.0.1, TLS and token options, the node as Envoy
// sends it, and a queue of decoded responses that a test reads in arrival order.
import { readFile } from 'node:fs/promises';
import * as grpc from '@grpc/grpc-js';

export interface AdsNodeOptions {
  /** node.id; defaults to "test-envoy". */
  nodeId?: string;
  /** node.cluster (the ambassador name); pass "" to send none. */
  cluster: string;
  /** node.metadata.namespace; omitted when undefined. */
  namespace?: string;
  /** Extra string entries of node.metadata. */
  metadata?: Record<string, string>;
}

export interface AdsConnectOptions {
  /** TLS: the CA of the server's certificate, and optionally a client certificate. Plaintext when absent. */
  tls?: { caFile: string; certFile?: string; keyFile?: string; serverName?: string };
  /** Sent as `authorization: Bearer <token>`. */
  token?: string;
}

export interface AdsStatus {
  code: grpc.status;
  details: string;
}

/** config.core.v3.Node, as protobufjs fromObject takes it. */
export function nodeMessage(node: AdsNodeOptions): Record<string, unknown> {
  const metadata: Record<string, string> = { ...(node.metadata ?? {}) };
  if (node.namespace !== undefined) metadata.namespace = node.namespace;
  return {
    id: node.nodeId ?? 'test-envoy',
    cluster: node.cluster,
    metadata: { fields: Object.fromEntries(Object.entries(metadata).map(([k, v]) => [k, { stringValue: v }])) },
    user_agent_name: 'ads-test-client',
  };
}

export interface XdsCall<R> {
  write(bytes: Uint8Array): void;
  /** The next response in arrival order; if typeUrl is given, it must be of that type. */
  next(typeUrl?: string, timeoutMs?: number): Promise<R>;
  /** Fails if any response arrives (or has arrived unread) within ms. */
  expectNothing(ms?: number): Promise<void>;
  /** The stream's final status; fails if the stream is still open after timeoutMs. */
  ended(timeoutMs?: number): Promise<AdsStatus>;
  /** Every response received so far, in order (read or not). */
  readonly received: readonly R[];
  /** The encoded size of every response received so far. */
  readonly bytesReceived: number;
  close(): void;
}

const short = (t: string) => t.slice(t.lastIndexOf('.') + 1);

/** Opens the bidi stream `path` to 127.0.0.1:port; responses are decoded with `decode`. */
export async function openXdsCall<R extends { typeUrl: string }>(
  port: number, path: string, decode: (bytes: Buffer) => R, describe: (r: R) => string, connect: AdsConnectOptions,
): Promise<XdsCall<R>> {
  const t = connect.tls;
  const credentials = t
    ? grpc.credentials.createSsl(await readFile(t.caFile), t.keyFile ? await readFile(t.keyFile) : null, t.certFile ? await readFile(t.certFile) : null)
    : grpc.credentials.createInsecure();
  const client = new grpc.Client(`127.0.0.1:${port}`, credentials, t?.serverName ? { 'grpc.ssl_target_name_override': t.serverName } : {});
  const callMetadata = new grpc.Metadata();
  if (connect.token !== undefined) callMetadata.set('authorization', `Bearer ${connect.token}`);
  const call = client.makeBidiStreamRequest<Uint8Array, Buffer>(path, (b) => Buffer.from(b), (b) => b, callMetadata);

  const queue: R[] = [];
  const received: R[] = [];
  let bytesReceived = 0;
  let waiter: (() => void) | undefined;
  let finalStatus: AdsStatus | undefined;
  let decodeError: Error | undefined;
  const wake = () => { const w = waiter; waiter = undefined; w?.(); };

  call.on('data', (bytes: Buffer) => {
    bytesReceived += bytes.byteLength;
    try {
      const r = decode(bytes);
      queue.push(r);
      received.push(r);
    } catch (e) {
      decodeError = e as Error;
    }
    wake();
  });
  const status = new Promise<AdsStatus>((resolve) => {
    call.on('status', (s: grpc.StatusObject) => {
      finalStatus = { code: s.code, details: s.details };
      resolve(finalStatus);
      wake();
    });
  });
  // Errors also arrive as a status; the listener keeps them from being thrown as unhandled.
  call.on('error', () => {});

  const take = async (timeoutMs: number): Promise<R | undefined> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (decodeError) throw decodeError;
      const r = queue.shift();
      if (r) return r;
      if (finalStatus) throw new Error(`the stream ended (status ${grpc.status[finalStatus.code]}: ${finalStatus.details}) with no response pending`);
      const left = deadline - Date.now();
      if (left <= 0) return undefined;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => { waiter = undefined; resolve(); }, left);
        waiter = () => { clearTimeout(timer); resolve(); };
      });
    }
  };

  return {
    write: (bytes) => { call.write(bytes); },
    async next(typeUrl, timeoutMs = 2000) {
      const r = await take(timeoutMs);
      if (!r) throw new Error(`no response${typeUrl ? ` of type ${short(typeUrl)}` : ''} within ${timeoutMs} ms`);
      if (typeUrl && r.typeUrl !== typeUrl) throw new Error(`expected a ${short(typeUrl)} response, got ${describe(r)}`);
      return r;
    },
    async expectNothing(ms = 150) {
      const r = queue.length > 0 ? queue[0] : await take(ms);
      if (r) throw new Error(`expected no response, got ${describe(r)}`);
    },
    async ended(timeoutMs = 2000) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`the stream is still open after ${timeoutMs} ms`)), timeoutMs);
      });
      try {
        return await Promise.race([status, timeout]);
      } finally {
        clearTimeout(timer);
      }
    },
    received,
    get bytesReceived() { return bytesReceived; },
    close() {
      call.cancel();
      client.close();
    },
  };
}
