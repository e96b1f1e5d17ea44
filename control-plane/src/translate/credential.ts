// Credentials injected from Secrets, per route: each distinct credential of a listener is one
// credential_injector filter, disabled by default and enabled only on the routes that use it.
import type { InjectConfig, ListenerConfig } from '../model/schema.ts';
import { ADS_SOURCE } from './config-source.ts';
import type { GroupId } from './names.ts';
import type { SecretStatus } from './secret-status.ts';
import { credentialSecretName } from './secrets.ts';
import type { JsonObject } from './types.ts';

const INJECTOR = 'type.googleapis.com/envoy.extensions.filters.http.credential_injector.v3.CredentialInjector';
const GENERIC = 'type.googleapis.com/envoy.extensions.http.injected_credentials.generic.v3.Generic';
export const FILTER_CONFIG = 'type.googleapis.com/envoy.config.route.v3.FilterConfig';

/** The filter's name in the HTTP filter chain (also the key routes enable it by). */
export function credentialFilterName(g: GroupId, inject: InjectConfig): string {
  return `credential-injector/${inject.header}/${credentialSecretName(g, inject)}`;
}

/** The listener's credential filters, one per distinct (header, Secret value, prefix) its usable routes inject. */
export function credentialFilters(g: GroupId, listenerIndex: number, l: ListenerConfig, status: SecretStatus): { filters: JsonObject[]; secrets: string[] } {
  const filters = new Map<string, JsonObject>();
  const secrets = new Set<string>();
  l.routes.forEach((r, ri) => {
    if (!r.inject || status.inject(listenerIndex, ri) !== undefined) return;
    const name = credentialFilterName(g, r.inject);
    const secret = credentialSecretName(g, r.inject);
    secrets.add(secret);
    filters.set(name, {
      name,
      disabled: true,
      typed_config: {
        '@type': INJECTOR,
        // The Secret's value replaces whatever the application sent in that header.
        overwrite: true,
        credential: {
          name: 'envoy.http.injected_credentials.generic',
          typed_config: { '@type': GENERIC, header: r.inject.header, credential: { name: secret, sds_config: ADS_SOURCE } },
        },
      },
    });
  });
  return { filters: [...filters.values()], secrets: [...secrets].sort() };
}
