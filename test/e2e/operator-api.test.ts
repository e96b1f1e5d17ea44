// The operator tools on the xDS port, through the real grpcurl over mutual TLS with an operator's
// certificate, while a real Envoy is connected: CSDS (Fetch and Stream, node matchers, ACKED and a
// real NACK with Envoy's message), the admin API (ListAmbassadors, Render, Validate), who is
// refused (an Envoy's identity, any non-operator), and the convergence histogram after an edit.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startUpstream, type Upstream } from '../../control-plane/src/demo/upstream.ts';
import type { EnvoyHandle } from '../helpers/envoy.ts';
import { freePorts } from '../helpers/ports.ts';
import { stopAll } from '../helpers/processes.ts';
import { CLI, REPO_ROOT, configMap, get, secretManifest, startAmbassador, startControlPlaneProcess, startServe, waitUntil, xdsCredentials, type ControlPlaneProcess } from '../helpers/scenario.ts';

const run = promisify(execFile);
const GRPCURL = join(REPO_ROOT, '.tools', 'bin', 'grpcurl');
const CSDS = 'envoy.service.status.v3.ClientStatusDiscoveryService';
const ADMIN = 'xds_ambassador.admin.v1.AdminService';
const LDS = 'type.googleapis.com/envoy.config.listener.v3.Listener';
const SDS = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret';
const SECRET_VALUE = 'operator-test-secret-value';

interface GenericXdsConfig {
  typeUrl: string;
  name: string;
  versionInfo: string;
  xdsConfig?: { '@type': string };
  clientStatus: string;
  configStatus: string;
  errorState?: { details: string; versionInfo: string; failedConfiguration?: unknown };
}
interface ClientStatusResponse {
  config?: { node: { id: string; cluster: string; metadata: Record<string, unknown> }; genericXdsConfigs: GenericXdsConfig[] }[];
}

let v1: Upstream;
let v2: Upstream;
let cp: ControlPlaneProcess;
let envoy: EnvoyHandle;
let port: number;
let busyPort: number;
let squatter: net.Server;

const manifest = (upstream: string, extraListener = '') => `${configMap({
  name: 'guarded',
  namespace: 'safe',
  config: `
ambassador: guarded
listeners:
  - name: api
    port: ${port}
    routes:
      - match: {prefix: /}
        upstream: ${upstream}
        inject: {header: x-api-key, secret: {name: api-key, key: key}}
${extraListener}
upstreams:
  v1: {endpoints: ["127.0.0.1:${v1.port}"]}
  v2: {endpoints: ["127.0.0.1:${v2.port}"]}`,
})}---
${secretManifest({ name: 'api-key', namespace: 'safe', data: { key: SECRET_VALUE } })}`;

/** The real grpcurl with the client certificate of this identity (the port asks every client for one). */
async function grpcurl(identity: [string, string], ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const creds = await xdsCredentials();
  const me = await creds.client(...identity);
  try {
    const r = await run(GRPCURL, ['-cacert', creds.caFile, '-cert', me.certFile, '-key', me.keyFile, ...args], { timeout: 20_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}
const OPERATOR: [string, string] = ['xds-system', 'operator'];
const asOperator = async (...args: string[]) => {
  const r = await grpcurl(OPERATOR, ...args);
  if (r.code !== 0) throw new Error(`grpcurl ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
};
const fetchStatus = async (request = '{}') => JSON.parse(await asOperator('-d', request, `127.0.0.1:${cp.xdsPort}`, `${CSDS}/FetchClientStatus`)) as ClientStatusResponse;
const configsOf = async () => (await fetchStatus()).config?.find((c) => c.node.id === envoy.name)?.genericXdsConfigs ?? [];
const metrics = async () => (await fetch(`http://127.0.0.1:${cp.httpPort}/metrics`)).text();
const convergenceCount = (text: string, type: string) => Number(new RegExp(`^xds_ambassador_proxy_convergence_seconds_count\\{type="${type}"\\} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);

beforeAll(async () => {
  [v1, v2] = await Promise.all([startUpstream({ name: 'v1' }), startUpstream({ name: 'v2' })]);
  [port, busyPort] = await freePorts(2) as [number, number];
  // Another process listens on busyPort: Envoy cannot bind a listener there (a real NACK).
  squatter = net.createServer();
  await new Promise<void>((r) => squatter.listen(busyPort, '127.0.0.1', r));
  cp = await startControlPlaneProcess({ 'guarded.yaml': manifest('v1') });
  envoy = await startAmbassador({ xdsPort: cp.xdsPort, ambassador: 'guarded', namespace: 'safe' });
  await waitUntil(async () => (await get(port)).upstream === 'v1', 10_000, 'the listener to serve');
  await waitUntil(async () => { const g = (await cp.status()).groups[0]; return g !== undefined && g.lastGood === g.latest; }, 5000, 'the config to be accepted');
});

afterAll(async () => {
  await stopAll();
  await Promise.all([v1?.close(), v2?.close(), new Promise((r) => squatter?.close(r))]);
});

describe('CSDS', () => {
  it('is listed and described through server reflection, with the admin API', async () => {
    const services = (await asOperator(`127.0.0.1:${cp.xdsPort}`, 'list')).trim().split('\n');
    expect(services).toEqual([
      'envoy.service.discovery.v3.AggregatedDiscoveryService',
      CSDS,
      'grpc.health.v1.Health',
      ADMIN,
    ]);
    expect(await asOperator(`127.0.0.1:${cp.xdsPort}`, 'describe', ADMIN)).toContain('rpc Render ( .xds_ambassador.admin.v1.RenderRequest ) returns ( .xds_ambassador.admin.v1.RenderResponse )');
  });

  it('FetchClientStatus shows the Envoy, its node and every resource ACKED, a Secret by name and version only', async () => {
    const raw = await asOperator('-d', '{}', `127.0.0.1:${cp.xdsPort}`, `${CSDS}/FetchClientStatus`);
    expect(raw).not.toContain(SECRET_VALUE);
    const status = JSON.parse(raw) as ClientStatusResponse;
    expect(status.config).toHaveLength(1);
    const client = status.config?.[0];
    expect(client?.node).toMatchObject({ id: envoy.name, cluster: 'guarded', metadata: { namespace: 'safe' } });
    const configs = client?.genericXdsConfigs ?? [];
    expect(new Set(configs.map((c) => c.typeUrl.split('.').at(-1)))).toEqual(new Set(['Cluster', 'ClusterLoadAssignment', 'Secret', 'Listener', 'RouteConfiguration']));
    for (const c of configs) {
      expect({ name: c.name, status: c.clientStatus, config: c.configStatus }).toEqual({ name: c.name, status: 'ACKED', config: 'SYNCED' });
      // Every resource comes with its content, printed by grpcurl through reflection; a Secret's never.
      if (c.typeUrl === SDS) expect(c.xdsConfig).toBeUndefined();
      else expect(c.xdsConfig?.['@type']).toBe(c.typeUrl);
    }
    const listener = configs.find((c) => c.typeUrl === LDS && c.name === 'safe/guarded/api');
    expect(JSON.stringify(listener?.xdsConfig)).toContain('"@type":"type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"');
    // What Envoy itself says it has: the same listener.
    const dump = JSON.stringify(await envoy.configDump('dynamic_listeners'));
    expect(dump).toContain('"name":"safe/guarded/api"');
  });

  it('Render (a dry run of the same manifest) gives exactly the resources and versions the Envoy ACKed', async () => {
    const request = JSON.stringify({ manifests: [{ path: 'guarded.yaml', content: manifest('v1') }], node: { namespace: 'safe', ambassador: 'guarded' } });
    const raw = await asOperator('-d', request, `127.0.0.1:${cp.xdsPort}`, `${ADMIN}/Render`);
    expect(raw).not.toContain(SECRET_VALUE);
    const rendered = JSON.parse(raw) as { group: string; configMap: string; version: string; resources: { typeUrl: string; name: string; version: string; resource?: unknown }[] };
    expect(rendered.group).toBe('safe/guarded');
    expect(rendered.configMap).toBe('safe/guarded');
    expect(rendered.version).toBe((await cp.status()).groups[0]?.served);
    const acked = (await configsOf()).map((c) => `${c.typeUrl} ${c.name} ${c.versionInfo}`).sort();
    expect(rendered.resources.map((r) => `${r.typeUrl} ${r.name} ${r.version}`).sort()).toEqual(acked);
    for (const r of rendered.resources) expect(r.resource === undefined).toBe(r.typeUrl === SDS);
  });

  it('node_matchers select by node id and metadata; a malformed one is INVALID_ARGUMENT', async () => {
    const ids = async (matchers: unknown[]) => (await fetchStatus(JSON.stringify({ node_matchers: matchers }))).config?.map((c) => c.node.id) ?? [];
    expect(await ids([{ node_id: { exact: envoy.name } }])).toEqual([envoy.name]);
    expect(await ids([{ node_id: { exact: 'nobody' } }])).toEqual([]);
    expect(await ids([{ node_id: { exact: 'nobody' } }, { node_id: { prefix: 'guarded-' } }])).toEqual([envoy.name]);
    expect(await ids([{ node_metadatas: [{ path: [{ key: 'namespace' }], value: { string_match: { exact: 'safe' } } }] }])).toEqual([envoy.name]);
    expect(await ids([{ node_metadatas: [{ path: [{ key: 'namespace' }], value: { string_match: { exact: 'shop' } } }] }])).toEqual([]);
    // exclude_resource_contents: the statuses without the resources.
    const bare = (await fetchStatus('{"exclude_resource_contents":true}')).config?.[0]?.genericXdsConfigs ?? [];
    expect(bare.length).toBeGreaterThan(0);
    expect(bare.filter((c) => c.xdsConfig !== undefined || c.clientStatus !== 'ACKED')).toEqual([]);
    const bad = await grpcurl(OPERATOR, '-d', '{"node_matchers":[{"node_id":{"safe_regex":{"regex":"(a)\\\\1"}}}]}', `127.0.0.1:${cp.xdsPort}`, `${CSDS}/FetchClientStatus`);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('Code: InvalidArgument');
    expect(bad.stderr).toContain('node_matchers[0].node_id.safe_regex.regex: backreferences and lookaround are not RE2 syntax');
  });

  it('StreamClientStatus answers each request on the stream', async () => {
    const out = await asOperator('-d', `{} {"node_matchers":[{"node_id":{"exact":"nobody"}}]} {"node_matchers":[{"node_id":{"suffix":"${envoy.name.slice(-3)}"}}]}`, `127.0.0.1:${cp.xdsPort}`, `${CSDS}/StreamClientStatus`);
    const responses = out.trim().split(/\n(?=\{)/).map((s) => JSON.parse(s) as ClientStatusResponse);
    expect(responses.map((r) => r.config?.length ?? 0)).toEqual([1, 0, 1]);
  });
});

describe('who may call the operator services', () => {
  const calls = (): [string, string][] => [
    [`${CSDS}/FetchClientStatus`, '{}'],
    [`${CSDS}/StreamClientStatus`, '{}'],
    [`${ADMIN}/ListAmbassadors`, '{}'],
    [`${ADMIN}/Validate`, '{}'],
  ];

  it("refuses the Envoy's own identity (PERMISSION_DENIED), and so any identity not named by --operator", async () => {
    for (const identity of [['safe', 'default'], ['xds-system', 'default'], ['operators', 'operator']] as [string, string][]) {
      for (const [method, body] of calls()) {
        const r = await grpcurl(identity, '-d', body, `127.0.0.1:${cp.xdsPort}`, method);
        // grpcurl exits with 64 + the status code: 7, PERMISSION_DENIED.
        expect({ identity, method, code: r.code }).toEqual({ identity, method, code: 64 + 7 });
        expect(r.stderr).toContain('Code: PermissionDenied');
        expect(r.stderr).toContain(`${identity.join('/')} is not an operator: CSDS and the admin API answer the identities of serve --operator only (xds-system/operator)`);
        expect(r.stdout).not.toContain(envoy.name);
      }
    }
    // Reflection and health stay open to any client of the CA, as before.
    expect((await grpcurl(['safe', 'default'], `127.0.0.1:${cp.xdsPort}`, 'grpc.health.v1.Health/Check')).code).toBe(0);
  });

  it('with --insecure, answers a caller on this machine (no identity exists to check); --operator is refused there', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'operator-insecure-'));
    try {
      await writeFile(join(dir, 'guarded.yaml'), manifest('v1'));
      const insecure = await startServe(['--config-dir', dir], { securityArgs: ['--insecure'] });
      const r = await run(GRPCURL, ['-plaintext', '-d', '{}', `127.0.0.1:${insecure.xdsPort}`, `${ADMIN}/ListAmbassadors`]);
      expect((JSON.parse(r.stdout) as { ambassadors: { group: string }[] }).ambassadors.map((a) => a.group)).toEqual(['safe/guarded']);
      await insecure.stop();
      const refused = await run(process.execPath, [CLI, 'serve', '--config-dir', dir, '--insecure', '--operator', 'xds-system/operator']).then(() => undefined, (e: { code: number; stderr: string }) => e);
      expect(refused?.code).toBe(2);
      expect(refused?.stderr).toContain('--operator names identities, which --insecure does not have');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('the admin API', () => {
  it('ListAmbassadors shows the ambassador, its versions and its connected Envoy', async () => {
    const list = JSON.parse(await asOperator(`127.0.0.1:${cp.xdsPort}`, `${ADMIN}/ListAmbassadors`)) as { ambassadors: { group: string; configMap: string; servedVersion: string; lastGoodVersion: string; envoys: { nodeId: string; client: string; types: { typeUrl: string; sentVersion: string; ackedVersion: string }[] }[] }[] };
    const status = (await cp.status()).groups[0];
    expect(list.ambassadors).toHaveLength(1);
    const a = list.ambassadors[0];
    expect(a).toMatchObject({ group: 'safe/guarded', configMap: 'safe/guarded', servedVersion: status?.served, lastGoodVersion: status?.lastGood });
    expect(a?.envoys.map((e) => [e.nodeId, e.client])).toEqual([[envoy.name, 'safe/default (certificate)']]);
    for (const t of a?.envoys[0]?.types ?? []) expect(t.ackedVersion).toBe(t.sentVersion);
    expect(a?.envoys[0]?.types).toHaveLength(5);
  });

  it('Validate reports exactly what `xds-ambassador validate` prints for the same file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'operator-validate-'));
    try {
      const file = join(dir, 'broken.yaml');
      const text = configMap({ name: 'broken', namespace: 'safe', config: 'ambassador: broken\nlisteners:\n  - name: api\n    port: 0\n    routes: [{match: {prefix: /}, upstream: nowhere}]' });
      await writeFile(file, text);
      const cli = await run(process.execPath, [CLI, 'validate', file]).then(() => { throw new Error('validate succeeded'); }, (e: { code: number; stdout: string }) => e);
      expect(cli.code).toBe(1);
      const answer = JSON.parse(await asOperator('-d', JSON.stringify({ manifests: [{ path: file, content: text }] }), `127.0.0.1:${cp.xdsPort}`, `${ADMIN}/Validate`)) as { errors: string[]; report: string };
      expect(answer.report).toBe(cli.stdout);
      expect(answer.errors.length).toBeGreaterThan(0);
      const ok = JSON.parse(await asOperator('-d', JSON.stringify({ manifests: [{ path: 'guarded.yaml', content: manifest('v1') }] }), `127.0.0.1:${cp.xdsPort}`, `${ADMIN}/Validate`)) as { errors?: string[]; report: string };
      expect(ok).toEqual({ ambassadors: ['safe/guarded'], report: 'ok: 1 ambassador (safe/guarded)\n' });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('convergence', () => {
  it("observes nothing for an Envoy's first config, and each type an edit changes once the Envoy ACKs it", async () => {
    const before = await metrics();
    for (const type of ['CDS', 'EDS', 'SDS', 'LDS', 'RDS']) expect({ type, count: convergenceCount(before, type) }).toEqual({ type, count: 0 });
    const SHORT: Record<string, string> = { Cluster: 'CDS', ClusterLoadAssignment: 'EDS', Secret: 'SDS', Listener: 'LDS', RouteConfiguration: 'RDS' };
    const versions = async () => new Map([...Map.groupBy(await configsOf(), (c) => SHORT[c.typeUrl.split('.').at(-1) ?? ''] ?? c.typeUrl)]
      .map(([t, list]) => [t, list.map((c) => `${c.name} ${c.versionInfo}`).sort().join(',')]));
    const old = await versions();
    await cp.write('guarded.yaml', manifest('v2'));
    await waitUntil(async () => (await get(port)).upstream === 'v2', 2000, 'the edit to be served');
    await waitUntil(async () => convergenceCount(await metrics(), 'RDS') === 1, 2000, 'an RDS convergence observation');
    // Exactly the types whose resources changed (CSDS says which) have one observation each: the
    // routes, and the clusters (the route's credential makes a variant of the new upstream).
    const now = await versions();
    const changed = ['CDS', 'EDS', 'SDS', 'LDS', 'RDS'].filter((t) => old.get(t) !== now.get(t));
    expect(changed).toEqual(['CDS', 'RDS']);
    const after = await metrics();
    expect(['CDS', 'EDS', 'SDS', 'LDS', 'RDS'].map((t) => convergenceCount(after, t))).toEqual([1, 0, 0, 0, 1]);
    const seconds = Number(/^xds_ambassador_proxy_convergence_seconds_sum\{type="RDS"\} (\S+)$/m.exec(after)?.[1]);
    process.stderr.write(`operator-api: an edit's RDS converged on the Envoy in ${(seconds * 1000).toFixed(0)} ms (publication to ACK)\n`);
    expect(seconds).toBeGreaterThan(0);
    expect(seconds).toBeLessThan(2);
  });
});

describe('a real NACK', () => {
  it("shows the rejected listener NACKED with Envoy's message, through the fallback, until a fix is ACKed", async () => {
    await cp.write('guarded.yaml', manifest('v2', `  - name: second
    port: ${busyPort}
    routes:
      - match: {prefix: /}
        upstream: v2`));
    const second = async () => (await configsOf()).find((c) => c.typeUrl === LDS && c.name === 'safe/guarded/second');
    await waitUntil(async () => (await second())?.clientStatus === 'NACKED', 5000, 'CSDS to show the NACK');
    // The group falls back to its last accepted snapshot, which the Envoy ACKs; the NACK stays visible.
    type List = { ambassadors: { rejected?: { nodeId: string; message: string }; envoys: { types: { typeUrl: string; sentVersion: string; ackedVersion?: string; rejectedMessage?: string }[] }[] }[] };
    const list = async () => JSON.parse(await asOperator(`127.0.0.1:${cp.xdsPort}`, `${ADMIN}/ListAmbassadors`)) as List;
    const ldsOf = (l: List) => l.ambassadors[0]?.envoys[0]?.types.find((t) => t.typeUrl === LDS);
    await waitUntil(async () => { const g = (await cp.status()).groups[0]; return g?.served === g?.lastGood && g?.rejected !== undefined; }, 5000, 'the fallback');
    await waitUntil(async () => { const t = ldsOf(await list()); return t !== undefined && t.ackedVersion === t.sentVersion; }, 5000, 'the fallback to be ACKed');
    const nacked = await second();
    expect(nacked).toMatchObject({ clientStatus: 'NACKED', configStatus: 'ERROR' });
    expect(nacked?.errorState?.details).toContain(`cannot bind '127.0.0.1:${busyPort}'`);
    expect(nacked?.errorState?.versionInfo).toMatch(/^[0-9a-f]{16}$/);
    expect(nacked?.xdsConfig).toBeUndefined();
    // The listener that did not change is still ACKED.
    expect((await configsOf()).find((c) => c.name === 'safe/guarded/api' && c.typeUrl === LDS)?.clientStatus).toBe('ACKED');
    const listed = await list();
    expect(listed.ambassadors[0]?.rejected?.nodeId).toBe(envoy.name);
    expect(listed.ambassadors[0]?.rejected?.message).toContain(`cannot bind '127.0.0.1:${busyPort}'`);
    expect(ldsOf(listed)?.rejectedMessage).toContain('cannot bind');

    // Fixed (another port): every resource ACKED again, the NACK gone.
    const [freeAgain] = await freePorts(1);
    await cp.write('guarded.yaml', manifest('v2', `  - name: second
    port: ${freeAgain}
    routes:
      - match: {prefix: /}
        upstream: v2`));
    await waitUntil(async () => (await second())?.clientStatus === 'ACKED', 5000, 'the fix to be ACKed');
    const all = await configsOf();
    expect(all.filter((c) => c.clientStatus !== 'ACKED')).toEqual([]);
    expect(all.filter((c) => c.errorState !== undefined)).toEqual([]);
  });
});
