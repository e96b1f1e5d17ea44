// The ambassador config a user writes under the `ambassador.yaml` key of a labelled ConfigMap.
// Every object is strict: an unknown field is an error, never silently ignored.
import { z } from 'zod';
import { dnsLabel, serviceAccountName, strict } from './schema/common.ts';
import { listener } from './schema/listener.ts';
import { tracing } from './schema/observability.ts';
import { upstream, upstreamOverride } from './schema/upstream.ts';

export { durationMs, endpoint, isIpAddress, parseHostPort } from './schema/common.ts';
export { RETRY_CONDITIONS } from './schema/route.ts';

export const ambassadorConfigSchema = strict({
  ambassador: dnsLabel('ambassador name (the node.cluster of its Envoys)'),
  /** Only Envoys proven to run as one of these ServiceAccounts (of the ConfigMap's namespace) get
   * this config; absent: any ServiceAccount of the namespace. */
  serviceAccounts: z.array(serviceAccountName).min(1, { error: 'expected at least one ServiceAccount name (or remove the field to allow every ServiceAccount of the namespace)' }).optional(),
  listeners: z.array(listener).min(1, { error: 'expected at least one listener' }),
  upstreams: z.record(dnsLabel('upstream name'), upstream).default({}),
  /** Overrides for the Envoys whose node.metadata.environment names an entry. */
  environments: z.record(dnsLabel('environment name'), strict({
    upstreams: z.record(dnsLabel('upstream name'), upstreamOverride).default({}),
  })).default({}),
  /** Traces of the HTTP listeners' requests, to an OpenTelemetry collector. */
  tracing: tracing.optional(),
});

export type AmbassadorConfig = z.infer<typeof ambassadorConfigSchema>;
export type ListenerConfig = AmbassadorConfig['listeners'][number];
export type HttpListenerConfig = Extract<ListenerConfig, { protocol: 'http' }>;
export type TcpListenerConfig = Extract<ListenerConfig, { protocol: 'tcp' }>;
export type RedisListenerConfig = Extract<ListenerConfig, { protocol: 'redis' }>;
export type RouteConfig = HttpListenerConfig['routes'][number];
export type UpstreamConfig = AmbassadorConfig['upstreams'][string];
export type RetryConfig = NonNullable<RouteConfig['retries']>;
export type HeaderMatchConfig = NonNullable<RouteConfig['match']['headers']>[string];
export type Endpoint = UpstreamConfig['endpoints'][number];
export type TlsConfig = NonNullable<UpstreamConfig['tls']>;
export type InjectConfig = NonNullable<RouteConfig['inject']>;
export type TranscodeConfig = NonNullable<RouteConfig['transcode']>;
export type OAuth2Config = NonNullable<RouteConfig['oauth2']>;
export type AwsSigV4Config = NonNullable<RouteConfig['awsSigV4']>;
export type { RateLimitConfig } from './schema/rate-limit.ts';
export type { TracingConfig } from './schema/observability.ts';
