// A stand-in OpenTelemetry collector for the tests and the tracing recipe: the OTLP/gRPC trace
// service (opentelemetry.proto.collector.trace.v1.TraceService/Export) on loopback, keeping every span
// it receives (and showing each to `onSpan`, when given). No OTLP .proto file is installed here, so the few messages it reads are built in
// code with protobufjs (field numbers from the public OTLP specification); fields it does not need
// are skipped by the decoder, as protobuf allows.
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';

export interface ReceivedSpan {
  /** The resource's service.name. */
  service: string;
  name: string;
  /** OTLP SpanKind: 1 internal, 2 server, 3 client. */
  kind: number;
  traceId: string;
  spanId: string;
  parentSpanId: string;
  attributes: Record<string, string | number | boolean>;
}

export interface OtlpReceiver {
  readonly port: number;
  readonly spans: ReceivedSpan[];
  /** Export calls received (a call may carry many spans). */
  readonly exports: number;
  stop(): Promise<void>;
}

function otlpTypes(): { request: protobuf.Type } {
  const field = (name: string, id: number, type: string, rule?: 'repeated') => new protobuf.Field(name, id, type, rule);
  const anyValue = new protobuf.Type('AnyValue')
    .add(field('string_value', 1, 'string'))
    .add(field('bool_value', 2, 'bool'))
    .add(field('int_value', 3, 'int64'))
    .add(field('double_value', 4, 'double'));
  const keyValue = new protobuf.Type('KeyValue').add(field('key', 1, 'string')).add(field('value', 2, 'AnyValue'));
  const resource = new protobuf.Type('Resource').add(field('attributes', 1, 'KeyValue', 'repeated'));
  const span = new protobuf.Type('Span')
    .add(field('trace_id', 1, 'bytes'))
    .add(field('span_id', 2, 'bytes'))
    .add(field('parent_span_id', 4, 'bytes'))
    .add(field('name', 5, 'string'))
    .add(field('kind', 6, 'int32'))
    .add(field('attributes', 9, 'KeyValue', 'repeated'));
  const scopeSpans = new protobuf.Type('ScopeSpans').add(field('spans', 2, 'Span', 'repeated'));
  const resourceSpans = new protobuf.Type('ResourceSpans').add(field('resource', 1, 'Resource')).add(field('scope_spans', 2, 'ScopeSpans', 'repeated'));
  const request = new protobuf.Type('ExportTraceServiceRequest').add(field('resource_spans', 1, 'ResourceSpans', 'repeated'));
  const root = new protobuf.Root().define('otlp');
  for (const t of [anyValue, keyValue, resource, span, scopeSpans, resourceSpans, request]) root.add(t);
  root.resolveAll();
  return { request };
}

interface KeyValue { key: string; value?: { string_value?: string; bool_value?: boolean; int_value?: number | string; double_value?: number } }

function attributes(kvs: KeyValue[] | undefined): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const kv of kvs ?? []) {
    const v = kv.value ?? {};
    out[kv.key] = v.string_value ?? v.bool_value ?? (v.int_value !== undefined ? Number(v.int_value) : undefined) ?? v.double_value ?? '';
  }
  return out;
}

const hex = (b: Uint8Array | undefined) => Buffer.from(b ?? []).toString('hex');

export interface StartOtlpReceiverOptions {
  /** 0 (default): a free port. */
  port?: number;
  onSpan?: (span: ReceivedSpan) => void;
}

export async function startOtlpReceiver(options: StartOtlpReceiverOptions = {}): Promise<OtlpReceiver> {
  const { request } = otlpTypes();
  const spans: ReceivedSpan[] = [];
  let exports = 0;
  const server = new grpc.Server();
  server.addService({
    Export: {
      path: '/opentelemetry.proto.collector.trace.v1.TraceService/Export',
      requestStream: false,
      responseStream: false,
      requestSerialize: (b: Buffer) => b,
      requestDeserialize: (b: Buffer) => b,
      // An empty ExportTraceServiceResponse: full success.
      responseSerialize: () => Buffer.alloc(0),
      responseDeserialize: (b: Buffer) => b,
    },
  }, {
    Export: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
      exports++;
      const decoded = request.toObject(request.decode(call.request), { longs: String }) as {
        resource_spans?: { resource?: { attributes?: KeyValue[] }; scope_spans?: { spans?: { trace_id?: Uint8Array; span_id?: Uint8Array; parent_span_id?: Uint8Array; name?: string; kind?: number; attributes?: KeyValue[] }[] }[] }[];
      };
      for (const rs of decoded.resource_spans ?? []) {
        const service = String(attributes(rs.resource?.attributes)['service.name'] ?? '');
        for (const ss of rs.scope_spans ?? []) {
          for (const s of ss.spans ?? []) {
            const span = { service, name: s.name ?? '', kind: s.kind ?? 0, traceId: hex(s.trace_id), spanId: hex(s.span_id), parentSpanId: hex(s.parent_span_id), attributes: attributes(s.attributes) };
            spans.push(span);
            options.onSpan?.(span);
          }
        }
      }
      callback(null, Buffer.alloc(0));
    },
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`127.0.0.1:${options.port ?? 0}`, grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p)));
  });
  return {
    port,
    spans,
    get exports() { return exports; },
    stop: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())),
  };
}
