// TLS origination: SNI, CA (system bundle, a file, or a Secret over SDS), SAN verification, client certificate over SDS.
import { isIpAddress, type Endpoint, type TlsConfig } from '../model/schema.ts';
import { ADS_SOURCE } from './config-source.ts';
import type { GroupId } from './names.ts';
import { caSecretName, certSecretName } from './secrets.ts';
import type { JsonObject } from './types.ts';

/** Where Debian/Ubuntu-based Envoy images (envoyproxy/envoy included) keep the system CA bundle. */
const SYSTEM_CA_FILE = '/etc/ssl/certs/ca-certificates.crt';

const UPSTREAM_TLS = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext';

function defaultSni(tls: TlsConfig, endpoints: readonly Endpoint[]): string | undefined {
  return tls.sni ?? endpoints.find((e) => !isIpAddress(e.host))?.host;
}

export function upstreamTransportSocket(g: GroupId, tls: TlsConfig, endpoints: readonly Endpoint[]): { socket: JsonObject; secrets: string[] } {
  const sni = defaultSni(tls, endpoints);
  const names = tls.subjectAltNames ?? (sni ? [sni] : []);
  const sans = names.map((n) => ({ san_type: isIpAddress(n) ? 'IP_ADDRESS' : 'DNS', matcher: { exact: n } }));
  const common: JsonObject = {};
  const secrets: string[] = [];
  if (tls.clientCert) {
    const name = certSecretName(g, tls.clientCert.secret.name);
    common.tls_certificate_sds_secret_configs = [{ name, sds_config: ADS_SOURCE }];
    secrets.push(name);
  }
  if (tls.ca && 'secret' in tls.ca) {
    const name = caSecretName(g, tls.ca.secret.name, tls.ca.secret.key);
    common.combined_validation_context = {
      default_validation_context: { match_typed_subject_alt_names: sans },
      validation_context_sds_secret_config: { name, sds_config: ADS_SOURCE },
    };
    secrets.push(name);
  } else {
    const file = tls.ca && 'file' in tls.ca ? tls.ca.file : SYSTEM_CA_FILE;
    common.validation_context = { trusted_ca: { filename: file }, match_typed_subject_alt_names: sans };
  }
  const context: JsonObject = { '@type': UPSTREAM_TLS, common_tls_context: common };
  if (sni) context.sni = sni;
  return { socket: { name: 'envoy.transport_sockets.tls', typed_config: context }, secrets };
}
