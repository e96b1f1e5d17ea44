// AWS SigV4: Envoy's aws_request_signing filter signs each request as it leaves for the upstream.
// The filter (in this API revision) has no field for credentials: Envoy takes them from its own
// process (environment variables, the AWS credentials file, web identity, instance metadata), never
// from xDS, so no key ever passes through the control plane.
import type { AwsSigV4Config, UpstreamConfig } from '../model/schema.ts';
import { upstreamAuthority } from './authority.ts';
import type { JsonObject } from './types.ts';

const SIGNING = 'type.googleapis.com/envoy.extensions.filters.http.aws_request_signing.v3.AwsRequestSigning';

export function awsSigV4Filter(s: AwsSigV4Config, upstream: UpstreamConfig): JsonObject {
  const config: JsonObject = {
    '@type': SIGNING,
    service_name: s.service,
    region: s.region,
    // The Host is part of the signature: the service's name, not the localhost the app called.
    host_rewrite: s.host ?? upstreamAuthority(upstream),
  };
  if (s.unsignedPayload) config.use_unsigned_payload = true;
  return { name: 'envoy.filters.http.aws_request_signing', typed_config: config };
}
