// Credentials a route adds to its requests. A route with one sends to its own variant of each target
// upstream's cluster: same endpoints (shared over EDS), plus an upstream HTTP filter that adds it —
// a header from a Secret (the credential injector with the generic extension, below), an OAuth2
// access token (oauth2.ts) or an AWS SigV4 signature (aws-sigv4.ts). Changing a credential then
// changes clusters, which apply to the very next request; the listener, and the connections the
// application holds, are never touched. Secret values reach Envoy over SDS only (secrets.ts).
import { createHash } from 'node:crypto';
import type { AmbassadorConfig, InjectConfig, RouteConfig } from '../model/schema.ts';
import type { SecretObject } from '../sources/types.ts';
import { awsSigV4Filter } from './aws-sigv4.ts';
import { ADS_SOURCE } from './config-source.ts';
import { scopedName, type GroupId } from './names.ts';
import { oauth2Filter } from './oauth2.ts';
import { clientSecret, credentialSecret, credentialSecretName } from './secrets.ts';
import type { Json, JsonObject, XdsResource } from './types.ts';

const HTTP_OPTIONS = 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions';
const INJECTOR = 'type.googleapis.com/envoy.extensions.filters.http.credential_injector.v3.CredentialInjector';
const GENERIC = 'type.googleapis.com/envoy.extensions.http.injected_credentials.generic.v3.Generic';
const UPSTREAM_CODEC = 'type.googleapis.com/envoy.extensions.filters.http.upstream_codec.v3.UpstreamCodec';

const id = (parts: Json[]) => createHash('sha256').update(JSON.stringify(parts)).digest('hex').slice(0, 8);

/** The cluster of `upstream` that adds the route's credential; undefined when the route has none. */
export function credentialClusterName(g: GroupId, upstream: string, r: RouteConfig): string | undefined {
  const base = scopedName(g, upstream);
  if (r.inject) return `${base}/${r.inject.header}-${id([r.inject.header, r.inject.secret.name, r.inject.secret.key, r.inject.prefix ?? ''])}`;
  const o = r.oauth2;
  if (o) return `${base}/oauth2-${id(['oauth2', o.tokenUpstream, o.tokenPath, o.clientId, o.clientSecret.name, o.clientSecret.key, o.scopes ?? []])}`;
  const s = r.awsSigV4;
  if (s) return `${base}/aws-sigv4-${id(['aws-sigv4', s.service, s.region, s.host ?? '', s.unsignedPayload])}`;
  return undefined;
}

/** A variant of an upstream's cluster: its name, what to add to the cluster, what it references. */
export interface CredentialVariant {
  name: string;
  protocolOptions: JsonObject;
  secrets: string[];
  clusters: string[];
}

/** The variant of `upstream` for the route's credential (the caller has checked both upstreams exist). */
export function credentialVariant(g: GroupId, upstream: string, upstreams: AmbassadorConfig['upstreams'], r: RouteConfig): CredentialVariant | undefined {
  const name = credentialClusterName(g, upstream, r);
  const u = upstreams[upstream];
  if (name === undefined || !u) return undefined;
  if (r.inject) {
    const secret = credentialSecretName(g, r.inject);
    return { name, protocolOptions: upstreamFilterOptions(headerFilter(r.inject, secret)), secrets: [secret], clusters: [] };
  }
  const token = r.oauth2 && upstreams[r.oauth2.tokenUpstream];
  if (r.oauth2 && token) {
    const f = oauth2Filter(g, r.oauth2, token);
    return { name, protocolOptions: upstreamFilterOptions(f.filter), secrets: f.secrets, clusters: f.clusters };
  }
  if (r.awsSigV4) return { name, protocolOptions: upstreamFilterOptions(awsSigV4Filter(r.awsSigV4, u)), secrets: [], clusters: [] };
  return undefined;
}

/** The SDS secrets the route's credential needs (none for SigV4: Envoy has its keys itself). */
export function credentialSecrets(g: GroupId, r: RouteConfig, secrets: ReadonlyMap<string, SecretObject>): XdsResource[] {
  const s = r.inject ? credentialSecret(g, r.inject, secrets) : r.oauth2 ? clientSecret(g, r.oauth2.clientSecret, secrets) : undefined;
  return s ? [s] : [];
}

function headerFilter(inject: InjectConfig, secret: string): JsonObject {
  return {
    name: 'envoy.filters.http.credential_injector',
    typed_config: {
      '@type': INJECTOR,
      // The Secret's value replaces whatever the application sent in that header.
      overwrite: true,
      credential: {
        name: 'envoy.http.injected_credentials.generic',
        typed_config: { '@type': GENERIC, header: inject.header, credential: { name: secret, sds_config: ADS_SOURCE } },
      },
    },
  };
}

/** typed_extension_protocol_options that run `filter` on every request to the cluster. */
function upstreamFilterOptions(filter: JsonObject): JsonObject {
  return {
    'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
      '@type': HTTP_OPTIONS,
      explicit_http_config: { http_protocol_options: {} },
      http_filters: [filter, { name: 'envoy.filters.http.upstream_codec', typed_config: { '@type': UPSTREAM_CODEC } }],
    },
  };
}
