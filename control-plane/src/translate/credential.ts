// Credentials injected from Secrets. A route that injects sends to its own variant of the upstream's
// cluster: same endpoints (shared over EDS), plus Envoy's credential_injector as an upstream HTTP
// filter reading the value over SDS. Changing a credential then changes clusters, which apply to the
// very next request; the listener, and the connections the application holds, are never touched.
import { createHash } from 'node:crypto';
import type { InjectConfig } from '../model/schema.ts';
import { ADS_SOURCE } from './config-source.ts';
import { scopedName, type GroupId } from './names.ts';
import { credentialSecretName } from './secrets.ts';
import type { JsonObject } from './types.ts';

const HTTP_OPTIONS = 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions';
const INJECTOR = 'type.googleapis.com/envoy.extensions.filters.http.credential_injector.v3.CredentialInjector';
const GENERIC = 'type.googleapis.com/envoy.extensions.http.injected_credentials.generic.v3.Generic';
const UPSTREAM_CODEC = 'type.googleapis.com/envoy.extensions.filters.http.upstream_codec.v3.UpstreamCodec';

/** The cluster of `upstream` that injects this credential. */
export function credentialClusterName(g: GroupId, upstream: string, inject: InjectConfig): string {
  const id = createHash('sha256').update(JSON.stringify([inject.header, inject.secret.name, inject.secret.key, inject.prefix ?? ''])).digest('hex').slice(0, 8);
  return `${scopedName(g, upstream)}/${inject.header}-${id}`;
}

/** typed_extension_protocol_options that run the credential injector on every request to the cluster. */
export function credentialProtocolOptions(g: GroupId, inject: InjectConfig): JsonObject {
  return {
    'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
      '@type': HTTP_OPTIONS,
      explicit_http_config: { http_protocol_options: {} },
      http_filters: [
        {
          name: 'envoy.filters.http.credential_injector',
          typed_config: {
            '@type': INJECTOR,
            // The Secret's value replaces whatever the application sent in that header.
            overwrite: true,
            credential: {
              name: 'envoy.http.injected_credentials.generic',
              typed_config: { '@type': GENERIC, header: inject.header, credential: { name: credentialSecretName(g, inject), sds_config: ADS_SOURCE } },
            },
          },
        },
        { name: 'envoy.filters.http.upstream_codec', typed_config: { '@type': UPSTREAM_CODEC } },
      ],
    },
  };
}
