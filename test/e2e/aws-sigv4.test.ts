// AWS SigV4 signing: a real Envoy signs each request of a route with Envoy's aws_request_signing
// filter; a stand-in AWS API recomputes every signature from the request and the known keys. The
// keys reach Envoy the way a Pod gives them (a mounted credentials file, or environment variables),
// never through the control plane.
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startAwsApi, type AwsApi } from '../../control-plane/src/demo/aws-api.ts';
import type { EnvoyHandle } from '../helpers/envoy.ts';
import { freePort } from '../helpers/ports.ts';
import { stopAll } from '../helpers/processes.ts';
import { configMap, get, startAmbassador, startControlPlaneProcess, waitUntil, type ControlPlaneProcess } from '../helpers/scenario.ts';
import { servedResources } from '../helpers/served-resources.ts';

const NS = 'analytics';
const KEY_ID = 'AKIAIOSFODNN7EXAMPLE';
const SECRET_KEY = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const TEMP_KEY_ID = 'ASIAIOSFODNN7TEMPKEY';
const TEMP_SECRET = 'tEmPoRaRyKeYwJalrXUtnFEMI/K7MDENGbPxRfiCY';
const SESSION_TOKEN = 'IQoJb3JpZ2luX2VjEXAMPLEsessionTOKEN+/=';
let dir: string;
let gateway: AwsApi;
let bucket: AwsApi;
let cp: ControlPlaneProcess;
let envoy: EnvoyHandle;
let port: number;

const ambassador = () => configMap({
  name: 'reports',
  namespace: NS,
  config: `
ambassador: reports
listeners:
  - name: aws
    port: ${port}
    routes:
      - match: {prefix: /api/}
        upstream: gateway
        awsSigV4: {service: execute-api, region: us-east-1}
      - match: {prefix: /bucket/}
        upstream: bucket
        awsSigV4: {service: s3, region: eu-central-1, host: reports.s3.eu-central-1.amazonaws.com, unsignedPayload: true}
      - match: {prefix: /}
        upstream: gateway
upstreams:
  gateway: {endpoints: ["127.0.0.1:${gateway.port}"]}
  bucket: {endpoints: ["127.0.0.1:${bucket.port}"]}`,
});

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'aws-sigv4-'));
  const keys = new Map([[KEY_ID, { secretAccessKey: SECRET_KEY }], [TEMP_KEY_ID, { secretAccessKey: TEMP_SECRET, sessionToken: SESSION_TOKEN }]]);
  gateway = await startAwsApi({ name: 'gateway', keys, region: 'us-east-1', service: 'execute-api' });
  bucket = await startAwsApi({ name: 'bucket', keys, region: 'eu-central-1', service: 's3', allowUnsignedPayload: true });
  port = await freePort();
  cp = await startControlPlaneProcess({ 'reports.yaml': ambassador() });
  // As a Pod would mount a Secret holding an AWS credentials file.
  await writeFile(join(dir, 'credentials'), `[default]\naws_access_key_id = ${KEY_ID}\naws_secret_access_key = ${SECRET_KEY}\n`);
  envoy = await startAmbassador({ xdsPort: cp.xdsPort, ambassador: 'reports', namespace: NS, env: { AWS_SHARED_CREDENTIALS_FILE: join(dir, 'credentials'), AWS_EC2_METADATA_DISABLED: 'true' } });
  await waitUntil(async () => (await get(port, '/api/x')).status === 200, 10_000, 'a signed request');
});

afterAll(async () => {
  await stopAll();
  await gateway?.close();
  await bucket?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

it('signs every request of the route, and the stand-in AWS API verifies each signature from the request and the key', async () => {
  gateway.reset();
  const gets = Array.from({ length: 40 }, (_, i) => get(port, `/api/reports/${i}?z=${i}&a=b%20c&M=1&empty=`));
  const posts = Array.from({ length: 20 }, (_, i) => fetch(`http://127.0.0.1:${port}/api/reports`, { method: 'POST', body: JSON.stringify({ report: i }), headers: { 'content-type': 'application/json' } }));
  const statuses = [...(await Promise.all(gets)).map((r) => r.status), ...(await Promise.all(posts)).map((r) => r.status)];
  expect(statuses.filter((s) => s !== 200)).toEqual([]);
  expect(gateway.verified).toBe(60);
  expect(gateway.rejected).toBe(0);
  const post = gateway.requests.find((r) => r.method === 'POST');
  expect(post?.body).toMatch(/^\{"report":\d+\}$/);
  // The body's hash is signed; the signed Host is the upstream's address (no TLS: host:port).
  expect(post?.headers['x-amz-content-sha256']).toBe(sha256(post?.body ?? ''));
  expect(post?.verdict).toMatchObject({ ok: true, accessKeyId: KEY_ID, payload: 'signed' });
  expect(post?.headers.host).toBe(`127.0.0.1:${gateway.port}`);
  expect(post?.headers.authorization).toMatch(new RegExp(`^AWS4-HMAC-SHA256 Credential=${KEY_ID}/\\d{8}/us-east-1/execute-api/aws4_request, SignedHeaders=[a-z0-9;-]*host;[a-z0-9;-]*x-amz-date`));
});

it('signs the Host it is given, and an unsigned payload when asked (S3)', async () => {
  const r = await fetch(`http://127.0.0.1:${port}/bucket/2026/q1 report.csv`, { method: 'PUT', body: 'region,total\neu,42\n' });
  expect(r.status).toBe(200);
  const seen = bucket.requests.at(-1);
  expect(seen?.verdict).toMatchObject({ ok: true, payload: 'unsigned' });
  expect(seen?.headers.host).toBe('reports.s3.eu-central-1.amazonaws.com');
  expect(seen?.target).toBe('/bucket/2026/q1%20report.csv');
  expect(seen?.body).toBe('region,total\neu,42\n');
});

it('the stand-in is no rubber stamp: it refuses a route without signing, and a signature replayed on another path', async () => {
  gateway.reset();
  const plain = await get(port, '/plain');
  expect(plain.status).toBe(403);
  expect(JSON.parse(plain.body)).toMatchObject({ error: 'SignatureDoesNotMatch', reason: 'no AWS4-HMAC-SHA256 authorization header' });
  await get(port, '/api/original');
  const signed = gateway.requests.at(-1)?.headers ?? {};
  const replayed = await fetch(`http://127.0.0.1:${gateway.port}/api/other`, { headers: Object.fromEntries(Object.entries(signed).filter(([k]) => k !== 'content-length')) });
  expect(replayed.status).toBe(403);
  expect(await replayed.json()).toMatchObject({ reason: 'SignatureDoesNotMatch' });
  expect([gateway.verified, gateway.rejected]).toEqual([1, 2]);
});

it('no key passes through the control plane: in no resource, not in Envoy\'s config dump, not in our logs or status', async () => {
  const served = await servedResources(cp.xdsPort, NS, 'reports', { routes: [`${NS}/reports/aws`], endpoints: [`${NS}/reports/gateway`, `${NS}/reports/bucket`], secrets: [] });
  const bytes = Buffer.concat([...served.values()].flat().map((r) => r.value));
  expect(bytes.length).toBeGreaterThan(0);
  expect(bytes.includes('aws_request_signing')).toBe(true); // the check can fail: the filter is there
  for (const key of [KEY_ID, SECRET_KEY]) expect(bytes.includes(key)).toBe(false);
  const texts = [JSON.stringify(await envoy.configDump()), cp.proc.output(), JSON.stringify(await cp.status())];
  for (const text of texts) for (const key of [KEY_ID, SECRET_KEY]) expect(text).not.toContain(key);
  expect(envoy.logs()).not.toContain(SECRET_KEY);
  // AWS_EC2_METADATA_DISABLED: Envoy made no cluster towards the instance metadata address.
  expect(await envoy.clusters()).not.toContain('169.254.169.254');
});

it('takes temporary keys from environment variables, session token included', async () => {
  await envoy.stop();
  envoy = await startAmbassador({ xdsPort: cp.xdsPort, ambassador: 'reports', namespace: NS, env: { AWS_ACCESS_KEY_ID: TEMP_KEY_ID, AWS_SECRET_ACCESS_KEY: TEMP_SECRET, AWS_SESSION_TOKEN: SESSION_TOKEN, AWS_EC2_METADATA_DISABLED: 'true' } });
  await waitUntil(async () => (await get(port, '/api/temp')).status === 200, 10_000, 'a request signed with the temporary keys');
  const seen = gateway.requests.at(-1);
  expect(seen?.verdict).toMatchObject({ ok: true, accessKeyId: TEMP_KEY_ID });
  expect(seen?.headers['x-amz-security-token']).toBe(SESSION_TOKEN);
  expect(seen?.verdict.ok && seen.verdict.signedHeaders).toContain('x-amz-security-token');
});

it('without keys, Envoy sends the request unsigned, and the service refuses it', async () => {
  await envoy.stop();
  envoy = await startAmbassador({ xdsPort: cp.xdsPort, ambassador: 'reports', namespace: NS, env: { HOME: dir, AWS_SHARED_CREDENTIALS_FILE: join(dir, 'none'), AWS_EC2_METADATA_DISABLED: 'true' } });
  await waitUntil(async () => (await get(port, '/plain')).status === 403, 10_000, 'the listener');
  const r = await get(port, '/api/x');
  expect(r.status).toBe(403);
  expect(JSON.parse(r.body)).toMatchObject({ reason: 'no AWS4-HMAC-SHA256 authorization header' });
  // Envoy 1.40 adds only the payload hash, and still counts the request in signing_added.
  const headers = gateway.requests.at(-1)?.headers ?? {};
  expect([headers.authorization, headers['x-amz-date'], headers['x-amz-content-sha256']]).toEqual([undefined, undefined, sha256('')]);
});
