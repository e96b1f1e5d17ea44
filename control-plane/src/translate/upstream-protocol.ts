// An upstream's `protocol` → the HTTP version of Envoy's connections to it, set in the cluster's
// HttpProtocolOptions. Over TLS, Envoy offers the matching ALPN (h2 for http2) by itself. A credential
// variant (credential.ts) has HttpProtocolOptions already, for its upstream filters: the protocol is
// merged into those, never a second copy.
import type { UpstreamProtocol } from '../model/schema/upstream-protocol.ts';
import type { JsonObject } from './types.ts';

const KEY = 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions';
const HTTP_OPTIONS = 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions';

function selection(p: UpstreamProtocol): JsonObject {
  switch (p) {
    case 'http1': return { explicit_http_config: { http_protocol_options: {} } };
    case 'http2': return { explicit_http_config: { http2_protocol_options: {} } };
    // Each request goes out in the HTTP version the application used towards the ambassador.
    case 'auto': return { use_downstream_protocol_config: { http_protocol_options: {}, http2_protocol_options: {} } };
  }
}

/** Cluster fields `extra` with the upstream protocol in its typed_extension_protocol_options.
 * Unchanged for http1 without other options: HTTP/1.1 is Envoy's default. */
export function withUpstreamProtocol(extra: JsonObject, p: UpstreamProtocol): JsonObject {
  const options = extra.typed_extension_protocol_options as JsonObject | undefined;
  const existing = options?.[KEY] as JsonObject | undefined;
  if (existing === undefined && p === 'http1') return extra;
  const rest = Object.fromEntries(Object.entries(existing ?? {}).filter(([k]) => !['@type', 'explicit_http_config', 'use_downstream_protocol_config', 'auto_config'].includes(k)));
  return { ...extra, typed_extension_protocol_options: { ...options, [KEY]: { '@type': HTTP_OPTIONS, ...selection(p), ...rest } } };
}
