// A real ADS (State-of-the-World) client for tests: one gRPC bidi stream over a real socket, speaking
// DiscoveryRequest / DiscoveryResponse as an Envoy would. Every response is decoded, and every resource
// Any is decoded into its own message by its type URL.
import { readFile } from 'node:fs/promises';
import * as grpc from '@grpc/grpc-js';
import type protobuf from 'protobufjs';
import { xdsRoot } from '../../control-plane/src/xds/protos.ts';

const ADS_PATH = '/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources';
const CLA = 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment';

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

export interface AdsRequest {
  typeUrl: string;
  /** resource_names; when omitted, the stream's current subscription for the type (as Envoy resends it), initially none. */
  names?: string[];
  versionInfo?: string;
  nonce?: string;
  /** NACK: the error_detail message (code 3, INVALID_ARGUMENT, as Envoy sends). */
  errorDetail?: string;
}

export interface AdsResource {
  /** The resource's name (`name`, or `cluster_name` for a ClusterLoadAssignment). */
  name: string;
  typeUrl: string;
  /** The decoded message, in protobuf JSON-object form (snake_case, `@type` on nested Any). */
  body: Record<string, unknown>;
  /** The google.protobuf.Any value bytes as received. */
  value: Uint8Array;
}

export interface AdsResponse {
  versionInfo: string;
  nonce: string;
  typeUrl: string;
  resources: AdsResource[];
  /** control_plane.identifier, or undefined when the response carries no control_plane. */
  controlPlane: string | undefined;
}

export interface AdsStatus {
  code: grpc.status;
  details: string;
}

export interface AdsSession {
  /** node.id of this stream's node. */
  readonly nodeId: string;
  /** Sends a DiscoveryRequest; the first one of the stream carries the node. */
  request(r: AdsRequest): void;
  /** ACKs a response: its version_info and nonce, with the given (or the current) subscription. */
  ack(resp: AdsResponse, names?: string[]): void;
  /** NACKs a response: the previously accepted version, its nonce and an error_detail. */
  nack(resp: AdsResponse, message: string, previousVersion?: string, names?: string[]): void;
  /** The next response in arrival order; if typeUrl is given, it must be of that type. */
  next(typeUrl?: string, timeoutMs?: number): Promise<AdsResponse>;
  /** Fails if any response arrives (or has arrived unread) within ms. */
  expectNothing(ms?: number): Promise<void>;
  /** The stream's final status; fails if the stream is still open after timeoutMs. */
  ended(timeoutMs?: number): Promise<AdsStatus>;
  /** Every response received so far, in order (read or not). */
  readonly received: readonly AdsResponse[];
  close(): void;
}

interface RawAny { type_url?: string; value?: Uint8Array }
interface RawResponse {
  version_info?: string;
  resources?: RawAny[];
  type_url?: string;
  nonce?: string;
  control_plane?: { identifier?: string };
}

const short = (t: string) => t.slice(t.lastIndexOf('.') + 1);

export function describeResponse(r: AdsResponse): string {
  return `${short(r.typeUrl)} v=${r.versionInfo} nonce=${r.nonce} [${r.resources.map((x) => x.name).join(', ')}]`;
}

function decodeResponse(root: protobuf.Root, responseType: protobuf.Type, bytes: Buffer): AdsResponse {
  const raw = responseType.toObject(responseType.decode(bytes), { defaults: false }) as RawResponse;
  const resources = (raw.resources ?? []).map((any): AdsResource => {
    const typeUrl = any.type_url ?? '';
    const type = root.lookupType(typeUrl.slice(typeUrl.lastIndexOf('/') + 1));
    const value = any.value ?? new Uint8Array();
    const body = type.toObject(type.decode(value), { longs: String, enums: String, json: true }) as Record<string, unknown>;
    const nameField = typeUrl === CLA ? body.cluster_name : body.name;
    return { name: typeof nameField === 'string' ? nameField : '', typeUrl, body, value };
  });
  return {
    versionInfo: raw.version_info ?? '',
    nonce: raw.nonce ?? '',
    typeUrl: raw.type_url ?? '',
    resources,
    controlPlane: raw.control_plane ? (raw.control_plane.identifier ?? '') : undefined,
  };
}

export interface AdsConnectOptions {
  /** TLS: the CA of the server's certificate, and optionally a client certificate. Plaintext when absent. */
  tls?: { caFile: string; certFile?: string; keyFile?: string; serverName?: string };
  /** Sent as `authorization: Bearer <token>`. */
  token?: string;
}

/** Opens an ADS stream to 127.0.0.1:port. Nothing is sent until the first request(). */
export async function openAds(port: number, node: AdsNodeOptions, connect: AdsConnectOptions = {}): Promise<AdsSession> {
  const root = await xdsRoot();
  const requestType = root.lookupType('envoy.service.discovery.v3.DiscoveryRequest');
  const responseType = root.lookupType('envoy.service.discovery.v3.DiscoveryResponse');

  const t = connect.tls;
  const credentials = t
    ? grpc.credentials.createSsl(await readFile(t.caFile), t.keyFile ? await readFile(t.keyFile) : null, t.certFile ? await readFile(t.certFile) : null)
    : grpc.credentials.createInsecure();
  const client = new grpc.Client(`127.0.0.1:${port}`, credentials, t?.serverName ? { 'grpc.ssl_target_name_override': t.serverName } : {});
  const callMetadata = new grpc.Metadata();
  if (connect.token !== undefined) callMetadata.set('authorization', `Bearer ${connect.token}`);
  const call = client.makeBidiStreamRequest<Uint8Array, Buffer>(ADS_PATH, (b) => Buffer.from(b), (b) => b, callMetadata);

  const queue: AdsResponse[] = [];
  const received: AdsResponse[] = [];
  let waiter: (() => void) | undefined;
  let finalStatus: AdsStatus | undefined;
  let decodeError: Error | undefined;
  const wake = () => { const w = waiter; waiter = undefined; w?.(); };

  call.on('data', (bytes: Buffer) => {
    try {
      const r = decodeResponse(root, responseType, bytes);
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

  let first = true;
  const nodeId = node.nodeId ?? 'test-envoy';
  const subscriptions = new Map<string, string[]>();
  const metadata: Record<string, string> = { ...(node.metadata ?? {}) };
  if (node.namespace !== undefined) metadata.namespace = node.namespace;

  const request = (r: AdsRequest) => {
    const names = r.names ?? subscriptions.get(r.typeUrl) ?? [];
    subscriptions.set(r.typeUrl, names);
    const msg: Record<string, unknown> = {
      version_info: r.versionInfo ?? '',
      resource_names: names,
      type_url: r.typeUrl,
      response_nonce: r.nonce ?? '',
    };
    if (first) {
      first = false;
      msg.node = {
        id: nodeId,
        cluster: node.cluster,
        metadata: { fields: Object.fromEntries(Object.entries(metadata).map(([k, v]) => [k, { stringValue: v }])) },
        user_agent_name: 'ads-test-client',
      };
    }
    if (r.errorDetail !== undefined) msg.error_detail = { code: grpc.status.INVALID_ARGUMENT, message: r.errorDetail };
    const err = requestType.verify(msg);
    if (err) throw new Error(`bad DiscoveryRequest: ${err}`);
    call.write(requestType.encode(requestType.fromObject(msg)).finish());
  };

  const take = async (timeoutMs: number): Promise<AdsResponse | undefined> => {
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
    nodeId,
    request,
    ack(resp, names) {
      request({ typeUrl: resp.typeUrl, versionInfo: resp.versionInfo, nonce: resp.nonce, ...(names ? { names } : {}) });
    },
    nack(resp, message, previousVersion = '', names) {
      request({ typeUrl: resp.typeUrl, versionInfo: previousVersion, nonce: resp.nonce, errorDetail: message, ...(names ? { names } : {}) });
    },
    async next(typeUrl, timeoutMs = 2000) {
      const r = await take(timeoutMs);
      if (!r) throw new Error(`no response${typeUrl ? ` of type ${short(typeUrl)}` : ''} within ${timeoutMs} ms`);
      if (typeUrl && r.typeUrl !== typeUrl) throw new Error(`expected a ${short(typeUrl)} response, got ${describeResponse(r)}`);
      return r;
    },
    async expectNothing(ms = 150) {
      const r = queue.length > 0 ? queue[0] : await take(ms);
      if (r) throw new Error(`expected no response, got ${describeResponse(r)}`);
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
    close() {
      call.cancel();
      client.close();
    },
  };
}
