// What the ambassador reports about each call: access logs (per listener) and traces (per ambassador).
import { z } from 'zod';
import { endpoint, strict } from './common.ts';

/** JSON lines to Envoy's stdout, one per request (HTTP) or connection (TCP); `false` turns them off. */
export const accessLog = z.boolean({ error: 'expected true or false (access logs are on unless "accessLog: false")' });

const COLLECTOR = 'the collector\'s OTLP/gRPC address "host:port", such as "otel-collector.observability:4317"';
const PERCENT = 'expected a percentage from 0 to 100, such as 100, 10 or 0.5';
const SERVICE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** Spans of every sampled request, to an OpenTelemetry collector over OTLP/gRPC. */
export const tracing = strict({
  /** The collector's OTLP/gRPC address (plaintext HTTP/2), e.g. otel-collector.observability:4317. */
  otlp: z.string({ error: (iss) => (iss.input === undefined ? `missing required field (expected ${COLLECTOR})` : `expected ${COLLECTOR}`) }).pipe(endpoint),
  /** Percent of requests traced (decimals allowed); default 100. */
  sampling: z.number({ error: PERCENT }).min(0, { error: PERCENT }).max(100, { error: PERCENT }).default(100),
  /** The service.name of the spans; default "<ambassador>.<namespace>". */
  serviceName: z.string().regex(SERVICE_NAME, { error: 'expected a service name: letters, digits, ".", "_" and "-", at most 128 characters' }).optional(),
});

export type TracingConfig = z.infer<typeof tracing>;
