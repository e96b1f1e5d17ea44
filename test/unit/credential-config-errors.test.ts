// Config errors of the route credentials beyond a static header (oauth2, awsSigV4): every bad value of
// every field gets the complete formatted message a user sees, with the YAML path and line.
import { describe, expect, it } from 'vitest';
import { formatConfigError } from '../../control-plane/src/model/errors.ts';
import { CONFIG_LABEL, parseConfigMap } from '../../control-plane/src/model/parse-configmap.ts';

function errorsOf(text: string): string[] {
  const r = parseConfigMap({ kind: 'ConfigMap', namespace: 'shop', name: 'orders', labels: { [CONFIG_LABEL]: 'true' }, origin: 'test', data: { 'ambassador.yaml': text } });
  if (r.ok) throw new Error('expected the config to be rejected, but it was accepted');
  return r.errors.map(formatConfigError);
}

const accepted = (text: string) => parseConfigMap({ kind: 'ConfigMap', namespace: 'shop', name: 'orders', labels: { [CONFIG_LABEL]: 'true' }, origin: 'test', data: { 'ambassador.yaml': text } }).ok;

/** A config whose one route (line 6) has `credential` (a YAML flow map) as its last field (line 8). */
function withCredential(credential: string): string {
  return [
    'ambassador: orders',
    'listeners:',
    '  - name: web',
    '    port: 8000',
    '    routes:',
    '      - match: {prefix: /}',
    '        upstream: api',
    `        ${credential}`,
    'upstreams:',
    '  api: {endpoints: ["10.0.0.1:443"], tls: {sni: api.example.com}}',
    '  idp: {endpoints: ["login.example.com:443"], tls: {}}',
    '',
  ].join('\n');
}

const OAUTH2 = { tokenUpstream: 'idp', tokenPath: '/oauth2/token', clientId: 'orders-app', clientSecret: '{name: idp-client, key: client-secret}' };
const oauth2 = (o: Partial<Record<keyof typeof OAUTH2 | 'scopes' | 'clientAuth', string>> = {}, drop: string[] = []) =>
  `oauth2: {${Object.entries({ ...OAUTH2, ...o }).filter(([k]) => !drop.includes(k)).map(([k, v]) => `${k}: ${v}`).join(', ')}}`;
const at = (path: string) => `ConfigMap shop/orders: ambassador.yaml: listeners[0].routes[0].${path} (line 8)`;

describe('oauth2', () => {
  it('accepts the base config (so each rejection below is caused by the one change)', () => {
    expect(accepted(withCredential(oauth2()))).toBe(true);
    expect(accepted(withCredential(oauth2({ scopes: '[payments.read, "https://api.example.com/.default"]', tokenPath: '"/token?audience=payments"', clientId: '"client with spaces"' })))).toBe(true);
  });

  it('tokenUpstream: not a name, or not an upstream of the config', () => {
    expect(errorsOf(withCredential(oauth2({ tokenUpstream: 'IdP' })))).toEqual([
      `${at('oauth2.tokenUpstream')}: expected an upstream name: lowercase letters, digits and "-", starting and ending with a letter or digit, at most 63 characters, found "IdP"`,
    ]);
    expect(errorsOf(withCredential(oauth2({ tokenUpstream: 'login' })))).toEqual([
      `${at('oauth2.tokenUpstream')}: unknown upstream "login" (defined upstreams: api, idp); add it under "upstreams:" or fix the name`,
    ]);
  });

  it('tokenPath: not a path, a space, a fragment, a quote', () => {
    for (const bad of ['oauth2/token', '"/oauth2/ token"', '"/token#x"', "'/to\"ken'"]) {
      expect(errorsOf(withCredential(oauth2({ tokenPath: bad })))).toEqual([
        `${at('oauth2.tokenPath')}: expected the token endpoint's path, starting with "/" (such as /oauth2/token), with the characters a URL path and query allow (percent-encode others), found ${JSON.stringify(bad.replace(/^["']|["']$/g, ''))}`,
      ]);
    }
  });

  it('clientId: empty, not ASCII, not a string', () => {
    expect(errorsOf(withCredential(oauth2({ clientId: '""' })))).toEqual([`${at('oauth2.clientId')}: expected a client id: printable ASCII characters, found ""`]);
    expect(errorsOf(withCredential(oauth2({ clientId: 'bestellungen-äpp' })))).toEqual([`${at('oauth2.clientId')}: expected a client id: printable ASCII characters, found "bestellungen-äpp"`]);
    expect(errorsOf(withCredential(oauth2({ clientId: '1234' })))).toEqual([`${at('oauth2.clientId')}: expected a string, found 1234`]);
  });

  it('clientSecret written as a value: refused without repeating it', () => {
    const errors = errorsOf(withCredential(oauth2({ clientSecret: 'hunter2-s3cr3t' })));
    expect(errors).toEqual([
      `${at('oauth2.clientSecret')}: expected a reference to a Secret, {name: SECRET, key: KEY}, found a string — the value itself never goes in a ConfigMap: put it in a Secret of this namespace and name it here`,
    ]);
    expect(errors.join('\n')).not.toContain('hunter2');
    expect(errorsOf(withCredential(oauth2({ clientSecret: '12345' })))[0]).toContain('found a number —');
  });

  it('clientSecret: a reference without its key, or with a bad name', () => {
    expect(errorsOf(withCredential(oauth2({ clientSecret: '{name: idp-client}' })))).toEqual([`${at('oauth2.clientSecret.key')}: missing required field (expected a string)`]);
    expect(errorsOf(withCredential(oauth2({ clientSecret: '{name: IdP_Client, key: s}' })))).toEqual([`${at('oauth2.clientSecret.name')}: expected a Secret name: lowercase letters, digits, "-" and ".", found "IdP_Client"`]);
  });

  it('scopes: empty, not a list, a scope with a space', () => {
    expect(errorsOf(withCredential(oauth2({ scopes: '[]' })))).toEqual([`${at('oauth2.scopes')}: expected at least 1 item, found a list (0 items)`]);
    expect(errorsOf(withCredential(oauth2({ scopes: '"read write"' })))).toEqual([`${at('oauth2.scopes')}: expected a list, found "read write"`]);
    expect(errorsOf(withCredential(oauth2({ scopes: '["read write"]' })))).toEqual([`${at('oauth2.scopes[0]')}: expected a scope: printable ASCII characters without spaces, '"' or '\\', found "read write"`]);
  });

  it('missing fields, and a field Envoy 1.40 does not honour', () => {
    expect(errorsOf(withCredential(oauth2({}, ['tokenPath', 'clientSecret'])))).toEqual([
      `${at('oauth2.tokenPath')}: missing required field (expected a string)`,
      `${at('oauth2.clientSecret')}: expected a reference to a Secret, {name: SECRET, key: KEY}, found nothing — the value itself never goes in a ConfigMap: put it in a Secret of this namespace and name it here`,
    ]);
    expect(errorsOf(withCredential(oauth2({ clientAuth: 'basic' })))).toEqual([
      `${at('oauth2')}: unknown field "clientAuth"; allowed fields: tokenUpstream, tokenPath, clientId, clientSecret, scopes`,
    ]);
  });
});

describe('awsSigV4', () => {
  const base = 'awsSigV4: {service: execute-api, region: us-east-1}';
  it('accepts the base config', () => {
    expect(accepted(withCredential(base))).toBe(true);
    expect(accepted(withCredential('awsSigV4: {service: s3, region: us-gov-west-1, host: "minio.storage.svc:9000", unsignedPayload: true}'))).toBe(true);
  });

  it('service, region, host, unsignedPayload: each bad value', () => {
    expect(errorsOf(withCredential('awsSigV4: {service: S3, region: us-east-1}'))).toEqual([
      `${at('awsSigV4.service')}: expected an AWS service signing name such as s3, execute-api, es or lambda: lowercase letters, digits, "." and "-", found "S3"`,
    ]);
    for (const region of ['us-east', 'US-EAST-1', 'eu-central-1a']) {
      expect(errorsOf(withCredential(`awsSigV4: {service: s3, region: ${region}}`))).toEqual([
        `${at('awsSigV4.region')}: expected an AWS region such as us-east-1 or eu-central-1, found "${region}"`,
      ]);
    }
    expect(errorsOf(withCredential('awsSigV4: {service: s3, region: us-east-1, host: "https://bucket.s3.amazonaws.com"}'))).toEqual([
      `${at('awsSigV4.host')}: expected a host name, optionally with a port, such as bucket.s3.us-east-1.amazonaws.com, found "https://bucket.s3.amazonaws.com"`,
    ]);
    expect(errorsOf(withCredential('awsSigV4: {service: s3, region: us-east-1, unsignedPayload: "yes"}'))).toEqual([
      `${at('awsSigV4.unsignedPayload')}: expected true or false, found "yes"`,
    ]);
  });

  it('missing fields; keys are not config (Envoy takes them from its environment)', () => {
    expect(errorsOf(withCredential('awsSigV4: {region: us-east-1}'))).toEqual([`${at('awsSigV4.service')}: missing required field (expected a string)`]);
    const errors = errorsOf(withCredential('awsSigV4: {service: s3, region: us-east-1, secretAccessKey: wJalrXUtnFEMI}'));
    expect(errors).toEqual([`${at('awsSigV4')}: unknown field "secretAccessKey"; allowed fields: service, region, host, unsignedPayload`]);
    expect(errors.join('\n')).not.toContain('wJalrXUtnFEMI');
  });
});

it('inject.secret written as a value: refused without repeating it', () => {
  const errors = errorsOf(withCredential('inject: {header: x-api-key, secret: "sk_live_abc123"}'));
  expect(errors).toEqual([
    `${at('inject.secret')}: expected a reference to a Secret, {name: SECRET, key: KEY}, found a string — the value itself never goes in a ConfigMap: put it in a Secret of this namespace and name it here`,
  ]);
  expect(errors.join('\n')).not.toContain('sk_live');
});

it('one credential per route', () => {
  const text = withCredential(`${oauth2()}\n        awsSigV4: {service: s3, region: us-east-1}\n        inject: {header: x-api-key, secret: {name: k, key: k}}`);
  expect(errorsOf(text)).toEqual([
    'ConfigMap shop/orders: ambassador.yaml: listeners[0].routes[0] (line 6): expected at most one of inject, oauth2, awsSigV4 (a route sends one credential), found inject and oauth2 and awsSigV4; split the route in two, or drop one',
  ]);
});
