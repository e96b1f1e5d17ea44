// Bad input changes nothing that was working: an invalid manifest is reported and the previous
// config keeps serving; a config Envoy rejects (NACK) is reported with Envoy's own message and the
// group goes back to its last accepted version.
import net from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startUpstream, type Upstream } from '../../control-plane/src/demo/upstream.ts';
import type { EnvoyHandle } from '../helpers/envoy.ts';
import { freePorts } from '../helpers/ports.ts';
import { stopAll } from '../helpers/processes.ts';
import { configMap, get, startAmbassador, startControlPlaneProcess, waitUntil, type ControlPlaneProcess } from '../helpers/scenario.ts';

let v1: Upstream;
let v2: Upstream;
let cp: ControlPlaneProcess;
let envoy: EnvoyHandle;
let port: number;
let busyPort: number;
let squatter: net.Server;

const manifest = (upstream: string, extraListener = '', routeExtra = '') => configMap({
  name: 'guarded',
  namespace: 'safe',
  config: `
ambassador: guarded
listeners:
  - name: api
    port: ${port}
    routes:
      - match: {prefix: /}
        upstream: ${upstream}${routeExtra}
${extraListener}
upstreams:
  v1: {endpoints: ["127.0.0.1:${v1.port}"]}
  v2: {endpoints: ["127.0.0.1:${v2.port}"]}`,
});

beforeAll(async () => {
  [v1, v2] = await Promise.all([startUpstream({ name: 'v1' }), startUpstream({ name: 'v2' })]);
  [port, busyPort] = await freePorts(2) as [number, number];
  // Another process already listens on busyPort: Envoy cannot bind a listener there.
  squatter = net.createServer();
  await new Promise<void>((r) => squatter.listen(busyPort, '127.0.0.1', r));
  cp = await startControlPlaneProcess({ 'guarded.yaml': manifest('v1') });
  envoy = await startAmbassador({ xdsPort: cp.xdsPort, ambassador: 'guarded', namespace: 'safe' });
  await waitUntil(async () => (await get(port)).upstream === 'v1', 10_000, 'the listener to serve');
});

afterAll(async () => {
  await stopAll();
  await Promise.all([v1?.close(), v2?.close(), new Promise((r) => squatter?.close(r))]);
});

it('reports an invalid manifest precisely and keeps serving the previous config', async () => {
  const mark = cp.proc.output().length;
  await cp.write('guarded.yaml', manifest('v2', '', '\n        timeout: soon'));
  // The line in the file, then the path and the line within ambassador.yaml.
  const expected = `${join(cp.dir, 'guarded.yaml')}:17: ConfigMap safe/guarded: ambassador.yaml: listeners[0].routes[0].timeout (line 8): expected a duration such as "250ms", "5s", "1.5s" or "2m", found "soon"`;
  await waitUntil(async () => (await cp.status()).errors.length > 0, 2000, 'the error in /debug/status');
  expect((await cp.status()).errors).toEqual([expected]);
  // The log line is written before /debug/status can show the error, but it comes over a pipe that
  // the test may read after the HTTP answer.
  await waitUntil(async () => cp.proc.output().slice(mark).includes(expected.replaceAll('"', '\\"')), 2000, 'the error in the log');
  // Envoy still routes with the last good config, and was sent nothing new.
  for (let i = 0; i < 20; i++) expect((await get(port)).upstream).toBe('v1');
  const metrics = await (await fetch(`http://127.0.0.1:${cp.httpPort}/metrics`)).text();
  expect(metrics).toMatch(/^xds_ambassador_config_errors 1$/m);

  // A broken YAML file (not even a manifest) is reported with its file, and changes nothing either.
  await cp.write('guarded.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata: [oops\n');
  await waitUntil(async () => (await cp.status()).sourceProblems.some((p) => p.includes('guarded.yaml')), 2000, 'the file problem');
  expect((await get(port)).upstream).toBe('v1');

  // Fixed: the new config is served and the errors are gone.
  await cp.write('guarded.yaml', manifest('v2'));
  await waitUntil(async () => (await get(port)).upstream === 'v2', 1000, 'the fixed config');
  const status = await cp.status();
  expect(status.errors).toEqual([]);
  expect(status.sourceProblems).toEqual([]);
});

it("reports a config Envoy rejects with Envoy's own message, and the last accepted config keeps serving", async () => {
  await cp.write('guarded.yaml', manifest('v1'));
  await waitUntil(async () => (await get(port)).upstream === 'v1', 1000, 'v1 again');
  // Let Envoy ACK that snapshot completely, so it is the group's last accepted version.
  const accepted = async () => { const g = (await cp.status()).groups[0]; return g !== undefined && g.lastGood === g.latest; };
  await waitUntil(accepted, 2000, 'the config to be accepted');
  const good = (await cp.status()).groups[0]?.served;
  expect(good).toBeDefined(); // else "served is still good" below would compare undefined with undefined

  const mark = cp.proc.output().length;
  // Valid for us, but Envoy cannot bind the second listener's port: it NACKs the whole LDS update.
  await cp.write('guarded.yaml', manifest('v2', `  - name: second
    port: ${busyPort}
    routes:
      - match: {prefix: /}
        upstream: v2`));
  await waitUntil(async () => (await cp.status()).groups[0]?.rejected !== undefined, 3000, 'the NACK to be recorded');
  const status = await cp.status();
  const group = status.groups[0];
  expect(group?.rejected?.message).toMatch(new RegExp(`cannot bind '127\\.0\\.0\\.1:${busyPort}'`));
  expect(group?.rejected?.nodeId).toBe(envoy.name);
  // The group went back to its last accepted snapshot.
  expect(group?.served).toBe(good);

  // Our log names the node, the ConfigMap and Envoy's message. (Logs are written asynchronously:
  // the line may reach us a moment after the status shows the NACK.)
  const nackLineNow = () => cp.proc.output().slice(mark).split('\n').find((l) => l.includes('"envoy_error"'));
  await waitUntil(async () => nackLineNow() !== undefined, 2000, 'the NACK logged');
  const nackLine = nackLineNow();
  expect(nackLine).toBeDefined();
  expect(nackLine).toContain(`"node":"${envoy.name}"`);
  expect(nackLine).toContain('ConfigMap safe/guarded');
  expect(nackLine).toContain(`cannot bind '127.0.0.1:${busyPort}'`);
  const metrics = await (await fetch(`http://127.0.0.1:${cp.httpPort}/metrics`)).text();
  expect(metrics).toMatch(/^xds_ambassador_nacks_total\{type="LDS",group="safe\/guarded"\} 1$/m);

  // Envoy keeps serving: the rejected route change (to v2) is not live, v1 still answers.
  for (let i = 0; i < 20; i++) expect((await get(port)).upstream).toBe('v1');
  expect((await envoy.stats('lds.update_rejected')).get('listener_manager.lds.update_rejected')).toBe(1);
  // And it is not pushed again in a loop.
  await new Promise((r) => setTimeout(r, 500));
  expect((await envoy.stats('lds.update_rejected')).get('listener_manager.lds.update_rejected')).toBe(1);

  // A fixed config (another port) is pushed and accepted.
  const [freeAgain] = await freePorts(1);
  await cp.write('guarded.yaml', manifest('v2', `  - name: second
    port: ${freeAgain}
    routes:
      - match: {prefix: /}
        upstream: v2`));
  await waitUntil(async () => (await get(port)).upstream === 'v2' && (await get(freeAgain as number)).upstream === 'v2', 2000, 'the fixed config');
  expect((await cp.status()).groups[0]?.rejected).toBeUndefined();
});
