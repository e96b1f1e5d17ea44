// SDS secrets: the only resources that carry Secret material. Names say what each one is for, so
// the same Secret key used as a CA and as a credential gives two distinct resources.
import { createHash } from 'node:crypto';
import type { InjectConfig, TlsConfig } from '../model/schema.ts';
import type { SecretObject } from '../sources/types.ts';
import { SECRET } from '../xds/type-urls.ts';
import type { GroupId } from './names.ts';
import type { JsonObject, XdsResource } from './types.ts';

export function caSecretName(g: GroupId, secret: string, key: string): string {
  return `${g.namespace}/${secret}/${key}/ca`;
}

export function certSecretName(g: GroupId, secret: string): string {
  return `${g.namespace}/${secret}/tls-certificate`;
}

export function credentialSecretName(g: GroupId, inject: InjectConfig): string {
  const base = `${g.namespace}/${inject.secret.name}/${inject.secret.key}/credential`;
  // The prefix is part of the value Envoy injects, so each prefix needs its own secret.
  return inject.prefix ? `${base}-${createHash('sha256').update(inject.prefix).digest('hex').slice(0, 8)}` : base;
}

/** An OAuth2 client secret: the Secret's value as is. */
export function clientSecretName(g: GroupId, ref: { name: string; key: string }): string {
  return `${g.namespace}/${ref.name}/${ref.key}/oauth2-client-secret`;
}

const bytes = (b: Uint8Array): JsonObject => ({ inline_bytes: Buffer.from(b).toString('base64') });

function resource(name: string, body: JsonObject): XdsResource {
  return { type: SECRET, name, body: { name, ...body }, refs: { clusters: [], routes: [], secrets: [] } };
}

/** The SDS secrets of one upstream's TLS settings (the caller has checked the Secrets exist). */
export function tlsSecrets(g: GroupId, tls: TlsConfig, secrets: ReadonlyMap<string, SecretObject>): XdsResource[] {
  const out: XdsResource[] = [];
  if (tls.ca && 'secret' in tls.ca) {
    const ca = secrets.get(tls.ca.secret.name)?.data[tls.ca.secret.key];
    if (ca) out.push(resource(caSecretName(g, tls.ca.secret.name, tls.ca.secret.key), { validation_context: { trusted_ca: bytes(ca) } }));
  }
  if (tls.clientCert) {
    const s = secrets.get(tls.clientCert.secret.name);
    const crt = s?.data['tls.crt'];
    const key = s?.data['tls.key'];
    if (crt && key) {
      out.push(resource(certSecretName(g, tls.clientCert.secret.name), { tls_certificate: { certificate_chain: bytes(crt), private_key: bytes(key) } }));
    }
  }
  return out;
}

/** The generic secret holding the exact header value Envoy injects (prefix + Secret value). */
export function credentialSecret(g: GroupId, inject: InjectConfig, secrets: ReadonlyMap<string, SecretObject>): XdsResource | undefined {
  const value = secrets.get(inject.secret.name)?.data[inject.secret.key];
  if (!value) return undefined;
  const full = Buffer.concat([Buffer.from(inject.prefix ?? '', 'utf8'), Buffer.from(value)]);
  return resource(credentialSecretName(g, inject), { generic_secret: { secret: bytes(full) } });
}

/** The generic secret holding an OAuth2 client secret, as Envoy sends it to the token endpoint. */
export function clientSecret(g: GroupId, ref: { name: string; key: string }, secrets: ReadonlyMap<string, SecretObject>): XdsResource | undefined {
  const value = secrets.get(ref.name)?.data[ref.key];
  return value ? resource(clientSecretName(g, ref), { generic_secret: { secret: bytes(value) } }) : undefined;
}
