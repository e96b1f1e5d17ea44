// OAuth2 client credentials: Envoy's credential injector with the oauth2 extension. Envoy posts the
// client id and the client secret (over SDS) to the token endpoint, through the token upstream's own
// cluster (its TLS settings apply), puts "authorization: Bearer <token>" on every request, and
// fetches a new token when half of the token's expires_in has passed. (Envoy 1.40 sends the client
// credentials in the form body whatever auth_type says, so auth_type is left at its default.)
import type { OAuth2Config, UpstreamConfig } from '../model/schema.ts';
import { upstreamAuthority } from './authority.ts';
import { ADS_SOURCE } from './config-source.ts';
import { duration } from './duration.ts';
import { scopedName, type GroupId } from './names.ts';
import { clientSecretName } from './secrets.ts';
import type { JsonObject } from './types.ts';

const INJECTOR = 'type.googleapis.com/envoy.extensions.filters.http.credential_injector.v3.CredentialInjector';
const OAUTH2 = 'type.googleapis.com/envoy.extensions.http.injected_credentials.oauth2.v3.OAuth2';

/** How long one token request may take. */
const TOKEN_REQUEST_TIMEOUT_MS = 5000;
/** When a token request fails (or cannot be made yet), the next one follows after this long: the
 * least Envoy allows. Envoy's first attempt comes before the client secret has arrived over SDS, so
 * this is also how long a new Envoy waits for its first token. */
const TOKEN_RETRY_MS = 1000;

export function oauth2Filter(g: GroupId, o: OAuth2Config, tokenUpstream: UpstreamConfig): { filter: JsonObject; secrets: string[]; clusters: string[] } {
  const tokenCluster = scopedName(g, o.tokenUpstream);
  const secret = clientSecretName(g, o.clientSecret);
  const credential: JsonObject = {
    '@type': OAUTH2,
    token_endpoint: { uri: `${tokenUpstream.tls ? 'https' : 'http'}://${upstreamAuthority(tokenUpstream)}${o.tokenPath}`, cluster: tokenCluster, timeout: duration(TOKEN_REQUEST_TIMEOUT_MS) },
    client_credentials: {
      client_id: o.clientId,
      client_secret: { name: secret, sds_config: ADS_SOURCE },
    },
  };
  if (o.scopes) credential.scopes = o.scopes;
  credential.token_fetch_retry_interval = duration(TOKEN_RETRY_MS);
  return {
    filter: {
      name: 'envoy.filters.http.credential_injector',
      // The token replaces whatever the application sent in authorization.
      typed_config: { '@type': INJECTOR, overwrite: true, credential: { name: 'envoy.http.injected_credentials.oauth2', typed_config: credential } },
    },
    secrets: [secret],
    clusters: [tokenCluster],
  };
}
