// OAuth2 client credentials: a real Envoy fetches an access token from a token endpoint (a stand-in
// over HTTPS, reached through its own upstream with a CA from a Secret, that counts token requests),
// refreshes it before it expires, and sends it as a bearer token; the client secret reaches Envoy
// over SDS only.
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { makePki, type Pki } from '../../control-plane/src/demo/pki.ts';
import { startTokenEndpoint, type TokenEndpoint } from '../../control-plane/src/demo/token-endpoint.ts';
import { startUpstream, type Upstream } from '../../control-plane/src/demo/upstream.ts';
import { SECRET as SDS } from '../../control-plane/src/xds/type-urls.ts';
import type { EnvoyHandle } from '../helpers/envoy.ts';
import { freePort } from '../helpers/ports.ts';
import { stopAll } from '../helpers/processes.ts';
import { configMap, get, requestLoop, secretManifest, startAmbassador, startControlPlaneProcess, waitUntil, type ControlPlaneProcess } from '../helpers/scenario.ts';
import { servedResources } from '../helpers/served-resources.ts';

const NS = 'shop';
// Characters a form body must escape, so that a wrong encoding would fail the token request.
const SECRET = 'client-secret-7c1e:+/=&%?x';
const ROTATED = 'client-secret-rotated-4b2d';
let pki: Pki;
let idp: TokenEndpoint;
let api: Upstream;
let cp: ControlPlaneProcess;
let envoy: EnvoyHandle;
let port: number;

const ambassador = (o: { scopes?: string; key?: string } = {}) => configMap({
  name: 'orders',
  namespace: NS,
  config: `
ambassador: orders
listeners:
  - name: api
    port: ${port}
    routes:
      - match: {prefix: /plain/}
        upstream: payments
      - match: {prefix: /}
        upstream: payments
        oauth2:
          tokenUpstream: idp
          tokenPath: /oauth2/token
          clientId: orders-app
          clientSecret: {name: idp-client, key: ${o.key ?? 'client-secret'}}
          scopes: ${o.scopes ?? '[orders.read, orders.write]'}
upstreams:
  payments: {endpoints: ["127.0.0.1:${api.port}"]}
  idp: {endpoints: ["127.0.0.1:${idp.port}"], tls: {sni: idp.example.test, ca: {secret: {name: idp-ca}}}}`,
});
const secrets = (clientSecret: string) => `${secretManifest({ name: 'idp-client', namespace: NS, data: { 'client-secret': clientSecret } })}---\n${secretManifest({ name: 'idp-ca', namespace: NS, data: { 'ca.crt': pki.ca.cert } })}`;
const bearer = () => api.requests.at(-1)?.headers.authorization;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  pki = await makePki();
  const cert = await pki.server(['idp.example.test']);
  idp = await startTokenEndpoint({ clientId: 'orders-app', clientSecrets: [SECRET], expiresIn: 3600, tls: { cert: cert.cert, key: cert.key } });
  api = await startUpstream({ name: 'payments' });
  port = await freePort();
  cp = await startControlPlaneProcess({ 'secrets.yaml': secrets(SECRET), 'orders.yaml': ambassador() });
  envoy = await startAmbassador({ xdsPort: cp.xdsPort, ambassador: 'orders', namespace: NS });
});

afterAll(async () => {
  await stopAll();
  await api?.close();
  await idp?.close();
  await pki?.cleanup();
});

it('fetches one token for many requests and sends it as a bearer token on that route only', async () => {
  // Envoy's first token request comes before the client secret has arrived over SDS; it tries again
  // 1 s later. Until then the route answers 401 "Failed to inject credential." (README: OAuth2).
  const early = new Set<string>();
  const waited = await waitUntil(async () => {
    const r = await get(port, '/orders');
    if (r.status !== 200) early.add(`${r.status} ${r.body}`);
    return r.status === 200;
  }, 5000, 'the first token');
  expect(waited).toBeLessThan(2000);
  expect([...early].every((e) => e === '401 Failed to inject credential.')).toBe(true);

  api.reset();
  const replies = await Promise.all(Array.from({ length: 100 }, (_, i) => get(port, `/orders/${i}`, i % 2 ? { authorization: 'Bearer from-the-app' } : {})));
  expect(replies.filter((r) => r.status !== 200)).toEqual([]);
  // Every request carried the token, the app's own authorization replaced; one fetch served them all.
  expect(new Set(api.requests.map((r) => r.headers.authorization))).toEqual(new Set(['Bearer token-1']));
  expect(api.requests).toHaveLength(100);
  expect(idp.requests).toHaveLength(1);
  expect({ ...idp.requests[0], at: 0 }).toEqual({ at: 0,
    clientAuth: 'body', clientId: 'orders-app', secret: 0, grantType: 'client_credentials', scope: 'orders.read orders.write',
    host: `idp.example.test:${idp.port}`, servername: 'idp.example.test', status: 200, token: 'token-1',
  });
  await get(port, '/plain/x');
  expect(bearer()).toBeUndefined();
  expect((await envoy.stats('credential_injector.oauth2.token_fetched')).get('credential_injector.oauth2.token_fetched')).toBe(1);
});

it('keeps the client secret out of every resource but SDS, Envoy\'s config dump and logs, and our logs, status and metrics', async () => {
  const encodings = [SECRET, encodeURIComponent(SECRET), Buffer.from(SECRET).toString('base64')];
  const served = await servedResources(cp.xdsPort, NS, 'orders', {
    routes: [`${NS}/orders/api`],
    endpoints: [`${NS}/orders/payments`, `${NS}/orders/idp`],
    secrets: [`${NS}/idp-client/client-secret/oauth2-client-secret`],
  });
  for (const [type, resources] of served) {
    const bytes = Buffer.concat(resources.map((r) => r.value));
    expect(resources.length, type).toBeGreaterThan(0);
    // The check can fail: the SDS secret does hold the value.
    expect(bytes.includes(SECRET), type).toBe(type === SDS);
    expect(bytes.includes(Buffer.from(SECRET).toString('base64')), type).toBe(false);
  }
  const texts = [
    JSON.stringify(await envoy.configDump(undefined, { includeEds: true })),
    envoy.logs(),
    cp.proc.output(),
    JSON.stringify(await cp.status()),
    await (await fetch(`http://127.0.0.1:${cp.httpPort}/metrics`)).text(),
  ];
  for (const text of texts) for (const e of encodings) expect(text).not.toContain(e);
  // What Envoy was given instead: the client id and the name of the SDS secret.
  expect(texts[0]).toContain('"client_id":"orders-app"');
  expect(texts[0]).toContain(`"client_secret":{"name":"${NS}/idp-client/client-secret/oauth2-client-secret"`);
});

it('refreshes the token when half of its lifetime has passed, with no failed request', async () => {
  // A change of the route's OAuth2 settings makes a new token provider, which gets a token with them.
  idp.configure({ expiresIn: 2 });
  await cp.write('orders.yaml', ambassador({ scopes: '[orders.read]' }));
  await waitUntil(async () => idp.requests.at(-1)?.scope === 'orders.read', 5000, 'a token request with the new scopes');
  await waitUntil(async () => (await get(port, '/orders')).status === 200 && bearer() === `Bearer ${idp.issued.at(-1)}`, 5000, 'the new token');
  const before = idp.issued.length;
  api.reset();
  const loop = requestLoop(port);
  await sleep(3500);
  await loop.stop();
  expect(loop.failures).toEqual([]);
  // expires_in 2 s: a new token every second (3 or 4 in 3.5 s), each carried by the requests after it.
  const fetched = idp.issued.slice(before);
  expect(fetched.length).toBeGreaterThanOrEqual(3);
  expect(fetched.length).toBeLessThanOrEqual(4);
  const seen = [...new Set(api.requests.map((r) => r.headers.authorization))];
  expect(seen).toEqual([`Bearer ${idp.issued[before - 1]}`, ...fetched.map((t) => `Bearer ${t}`)].slice(0, seen.length));
  expect(seen.length).toBeGreaterThanOrEqual(fetched.length);
});

it('uses a rotated client secret from the next token request on, with no restart and no failed request', async () => {
  const pid = envoy.pid;
  const loop = requestLoop(port);
  // As with a real authorization server: the new secret is added, the Secret edited, and once the
  // new secret is in use the old one is revoked.
  idp.configure({ clientSecrets: [SECRET, ROTATED] });
  const from = idp.requests.length;
  await cp.write('secrets.yaml', secrets(ROTATED));
  await waitUntil(async () => idp.requests.slice(from).some((r) => r.secret === 1 && r.status === 200), 5000, 'a token request with the rotated secret');
  idp.configure({ clientSecrets: [ROTATED] });
  const revoked = idp.requests.length;
  await waitUntil(async () => idp.requests.slice(revoked).some((r) => r.status === 200), 5000, 'a token with only the rotated secret accepted');
  await waitUntil(async () => bearer() === `Bearer ${idp.issued.at(-1)}`, 2000, 'that token');
  await loop.stop();
  expect(loop.failures).toEqual([]);
  expect(idp.requests.slice(revoked).filter((r) => r.status !== 200)).toEqual([]);
  expect(envoy.pid).toBe(pid);
  expect(cp.proc.output()).not.toContain(ROTATED);
});

it('keeps sending its token while the token endpoint is down, until the token expires; then 401 until a new one comes', async () => {
  idp.configure({ expiresIn: 6 });
  const next = idp.issued.length + 1;
  await waitUntil(async () => idp.issued.length >= next, 3000, 'a token that lasts 6 s');
  const issuedAt = idp.requests.find((r) => r.token === idp.issued[next - 1])?.at ?? NaN;
  const failed: { at: number; reply: string }[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const r = await get(port, '/orders');
      if (r.status !== 200) failed.push({ at: Date.now(), reply: `${r.status} ${r.body}` });
    }
  })();
  idp.configure({ unavailable: true });
  // Envoy asks again after 3 s (half the lifetime), then every second, each refused.
  await waitUntil(async () => failed.length > 0, 10_000, 'the token to expire');
  const refused = idp.requests.filter((r) => r.at > issuedAt && r.status === 503).length;
  idp.configure({ unavailable: false });
  const last = idp.issued.at(-1);
  await waitUntil(async () => idp.issued.at(-1) !== last && (await get(port, '/orders')).status === 200 && bearer() === `Bearer ${idp.issued.at(-1)}`, 5000, 'a new token after the outage');
  running = false;
  await loop;
  expect(refused).toBeGreaterThanOrEqual(3);
  // Nothing failed while the token was valid; then only the injector's 401, never an unauthenticated request.
  expect(failed[0]?.at).toBeGreaterThanOrEqual(issuedAt + 6000 - 100);
  expect(new Set(failed.map((f) => f.reply))).toEqual(new Set(['401 Failed to inject credential.']));
  expect((await envoy.stats('token_fetch_failed_on_bad_response_code')).get('credential_injector.oauth2.token_fetch_failed_on_bad_response_code')).toBeGreaterThanOrEqual(3);
});

it('answers 503 naming a missing client secret key on that route only, and comes back when the key exists', async () => {
  await cp.write('orders.yaml', ambassador({ scopes: '[orders.read]', key: 'missing' }));
  await waitUntil(async () => (await get(port, '/orders')).status === 503, 2000, 'the route without its client secret');
  expect((await get(port, '/orders')).body).toContain('Secret shop/idp-client has no key "missing" (it has "client-secret")');
  expect((await get(port, '/plain/x')).status).toBe(200);
  expect((await cp.status()).errors).toEqual([
    `${join(cp.dir, 'orders.yaml')}:10: ConfigMap shop/orders: ambassador.yaml: listeners[0].routes[1].oauth2.clientSecret: Secret shop/idp-client has no key "missing" (it has "client-secret")`,
  ]);
  await cp.write('secrets.yaml', `${secretManifest({ name: 'idp-client', namespace: NS, data: { 'client-secret': ROTATED, missing: ROTATED } })}---\n${secretManifest({ name: 'idp-ca', namespace: NS, data: { 'ca.crt': pki.ca.cert } })}`);
  await waitUntil(async () => (await get(port, '/orders')).status === 200, 5000, 'the route with its client secret');
});
