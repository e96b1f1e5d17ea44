// Access logs: one JSON line per HTTP request (or TCP connection) on Envoy's stdout, where the
// container's logs are collected. The fields are fixed and documented in the README; the path is
// logged without its query string, which may carry credentials.
import type { HttpListenerConfig, TcpListenerConfig } from '../model/schema.ts';
import type { JsonObject } from './types.ts';

const STDOUT = 'type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog';

/** Envoy command operators of an HTTP access log line, by field name ("listener" is added). */
export const HTTP_ACCESS_LOG_FIELDS: Readonly<Record<string, string>> = {
  start_time: '%START_TIME%',
  route: '%ROUTE_NAME%',
  method: '%REQ(:METHOD)%',
  authority: '%REQ(:AUTHORITY)%',
  path: '%PATH(NQ)%',
  protocol: '%PROTOCOL%',
  response_code: '%RESPONSE_CODE%',
  response_flags: '%RESPONSE_FLAGS%',
  response_code_details: '%RESPONSE_CODE_DETAILS%',
  upstream_cluster: '%UPSTREAM_CLUSTER%',
  upstream_host: '%UPSTREAM_HOST%',
  attempts: '%UPSTREAM_REQUEST_ATTEMPT_COUNT%',
  duration_ms: '%DURATION%',
  upstream_service_time_ms: '%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%',
  bytes_received: '%BYTES_RECEIVED%',
  bytes_sent: '%BYTES_SENT%',
  request_id: '%REQ(X-REQUEST-ID)%',
  trace_id: '%TRACE_ID%',
};

/** Envoy command operators of a TCP access log line (one per connection, when it closes). */
export const TCP_ACCESS_LOG_FIELDS: Readonly<Record<string, string>> = {
  start_time: '%START_TIME%',
  upstream_cluster: '%UPSTREAM_CLUSTER%',
  upstream_host: '%UPSTREAM_HOST%',
  response_flags: '%RESPONSE_FLAGS%',
  duration_ms: '%DURATION%',
  bytes_received: '%BYTES_RECEIVED%',
  bytes_sent: '%BYTES_SENT%',
};

/** google.protobuf.Struct in protobuf object form (protobufjs defines its Value with camelCase fields). */
function struct(fields: Record<string, string>): JsonObject {
  return { fields: Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, { stringValue: v }])) };
}

function stdoutJson(listener: string, fields: Readonly<Record<string, string>>): JsonObject[] {
  return [{ name: 'envoy.access_loggers.stdout', typed_config: { '@type': STDOUT, log_format: { json_format: struct({ listener, ...fields }) } } }];
}

/** The HCM's access_log, for a listener with `accessLog` on. */
export function httpAccessLog(l: HttpListenerConfig): JsonObject[] {
  return stdoutJson(l.name, HTTP_ACCESS_LOG_FIELDS);
}

/** The tcp_proxy's access_log, for a listener with `accessLog` on. */
export function tcpAccessLog(l: TcpListenerConfig): JsonObject[] {
  return stdoutJson(l.name, TCP_ACCESS_LOG_FIELDS);
}
