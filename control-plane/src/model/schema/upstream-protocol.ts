// Which HTTP version Envoy speaks to an upstream. gRPC needs HTTP/2: `http2` (h2c in plaintext, h2
// negotiated by ALPN over `tls`), or `auto` (each request as the application sent it: HTTP/1.1
// stays HTTP/1.1, HTTP/2 — a gRPC call — goes out as HTTP/2).
import { z } from 'zod';

const UPSTREAM_PROTOCOLS = ['http1', 'http2', 'auto'] as const;
export type UpstreamProtocol = (typeof UPSTREAM_PROTOCOLS)[number];

export const upstreamProtocol = z.enum(UPSTREAM_PROTOCOLS, { error: `expected one of ${UPSTREAM_PROTOCOLS.join(', ')} (http2 for gRPC)` });

/** gRPC status conditions for `retries.on` (Envoy's x-envoy-retry-grpc-on): they read the
 * grpc-status of the response, so they need an upstream that can carry gRPC. */
export const GRPC_RETRY_CONDITIONS = ['cancelled', 'deadline-exceeded', 'internal', 'resource-exhausted', 'unavailable'] as const;
