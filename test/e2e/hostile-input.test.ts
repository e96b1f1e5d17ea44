// One hostile file touches nothing else (the directory source, real processes): for each class of
// hostile input — alias bombs, deep nesting, huge documents, bytes that are not UTF-8 — the control
// plane stays ready, /debug/status names the file, the object and the line, and a real Envoy of
// another ambassador keeps receiving edits made after the hostile file appeared.
import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { startUpstream, type Upstream } from '../../control-plane/src/demo/upstream.ts';
import { freePort } from '../helpers/ports.ts';
import { stopAll } from '../helpers/processes.ts';
import { configMap, get, secretManifest, startAmbassador, startControlPlaneProcess, waitUntil, type ControlPlaneProcess } from '../helpers/scenario.ts';

let v1: Upstream;
let v2: Upstream;
let cp: ControlPlaneProcess;
let port: number;
let edits = 0;

const NS = 'shop';
const edited = (upstream: string) => configMap({ name: 'edited', namespace: NS, config: `
ambassador: edited
listeners:
  - name: api
    port: ${port}
    routes:
      - match: {prefix: /}
        upstream: ${upstream}
        inject: {header: x-api-key, secret: {name: api, key: token}}
upstreams:
  v1: {endpoints: ["127.0.0.1:${v1.port}"]}
  v2: {endpoints: ["127.0.0.1:${v2.port}"]}` });
const hostile = (name: string, config: string) => configMap({ name, namespace: NS, config });
// The issue's reproduction: 101 aliases of a list made the yaml library throw from toJS().
const ISSUE_BOMB = `x: &x [1]\ny: [${Array(101).fill('*x').join(', ')}]`;
// Aliases of aliases: 10^6 values once expanded, from 6 short lines.
const LAUGHS = ['a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]', ...['b', 'c', 'd', 'e'].map((k, i) => `${k}: &${k} [${Array(10).fill(`*${'abcd'[i]}`).join(', ')}]`), `f: [${Array(10).fill('*e').join(', ')}]`].join('\n');
const file = (name: string) => join(cp.dir, name);

/** Edits the other ambassador and waits for its Envoy to route by the edit; the process stays ready. */
async function editIsApplied(): Promise<void> {
  const target = ++edits % 2 ? 'v2' : 'v1';
  await cp.write('edited.yaml', edited(target));
  await waitUntil(async () => (await get(port, '/', {}, 1000)).upstream === target, 5000, `edit ${edits} (to ${target}) applied by the Envoy of another ambassador`);
  expect((await fetch(`http://127.0.0.1:${cp.httpPort}/readyz`)).status).toBe(200);
  expect(cp.proc.exited()).toBeUndefined();
}

async function statusShows(what: 'errors' | 'sourceProblems', expected: string, timeoutMs = 5000): Promise<void> {
  await waitUntil(async () => (await cp.status())[what].includes(expected), timeoutMs, `/debug/status ${what} to show: ${expected}`);
}

beforeAll(async () => {
  [v1, v2] = await Promise.all([startUpstream({ name: 'v1' }), startUpstream({ name: 'v2' })]) as [Upstream, Upstream];
  port = await freePort();
  // The alias bomb is there from the start: the control plane used to never become ready.
  cp = await startControlPlaneProcess({
    'edited.yaml': edited('v1'),
    'secret.yaml': secretManifest({ name: 'api', namespace: NS, data: { token: 'first-token' } }),
    'bomb.yaml': hostile('bomb', ISSUE_BOMB),
  });
  await startAmbassador({ xdsPort: cp.xdsPort, ambassador: 'edited', namespace: NS });
  await waitUntil(async () => (await get(port, '/', {}, 1000)).upstream === 'v1', 10_000, 'the first config served');
});

afterEach(async () => {
  // Each test's hostile files go; the errors they caused go with them.
  for (const f of ['bomb.yaml', 'laughs.yaml', 'deep.yaml', 'deep-manifest.yaml', 'huge.yaml', 'big-configmap.yaml', 'slow.yaml']) await cp.remove(f);
  await cp.write('secret.yaml', secretManifest({ name: 'api', namespace: NS, data: { token: 'first-token' } }));
  await waitUntil(async () => { const s = await cp.status(); return s.errors.length === 0 && s.sourceProblems.length === 0; }, 5000, 'the errors to clear');
});

afterAll(async () => {
  await stopAll();
  await Promise.all([v1?.close(), v2?.close()]);
});

it('alias bombs: ready with one present at start, precise errors, other ambassadors keep receiving edits', async () => {
  await statusShows('errors', `${file('bomb.yaml')}:10: ConfigMap shop/bomb: ambassador.yaml (line 1): unknown field "x", "y"; allowed fields: ambassador, serviceAccounts, listeners, upstreams, environments, tracing`);
  await editIsApplied();
  await cp.write('laughs.yaml', hostile('laughs', LAUGHS));
  await statusShows('errors', `${file('laughs.yaml')}:13: ConfigMap shop/laughs: ambassador.yaml (line 4): YAML aliases: the aliases (*name) expand to more than 10000 values — write the repeated parts out, or use fewer aliases`);
  await editIsApplied();
  // The same in a manifest itself (not inside ambassador.yaml): a problem of that file.
  await cp.write('laughs.yaml', `${LAUGHS}\n`);
  await statusShows('sourceProblems', `${file('laughs.yaml')}: document 1 (line 4): YAML aliases: the aliases (*name) expand to more than 10000 values — write the repeated parts out, or use fewer aliases`);
  await editIsApplied();
});

it('deep nesting: 100000 levels inside ambassador.yaml and in a manifest', async () => {
  const nested = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
  await cp.write('deep.yaml', hostile('deep', `ambassador: deep\nlisteners: ${nested}`));
  await statusShows('errors', `${file('deep.yaml')}:11: ConfigMap shop/deep: ambassador.yaml (line 2): YAML nesting: more than 100 levels of maps and lists — a config never needs that many; remove the extra nesting`);
  await editIsApplied();
  await cp.write('deep-manifest.yaml', `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: deep-manifest}\ndata: ${nested}\n`);
  await statusShows('sourceProblems', `${file('deep-manifest.yaml')}: document 1 (line 4): YAML nesting: more than 100 levels of maps and lists — a config never needs that many; remove the extra nesting`);
  await editIsApplied();
});

it('huge documents: a 10 MB file, and a ConfigMap over the API server\'s 1 MiB', async () => {
  await cp.write('huge.yaml', hostile('huge', `ambassador: huge\nlisteners: [${Array(5_000_000).fill('1').join(',')}]`));
  await statusShows('sourceProblems', `${file('huge.yaml')}: the file is larger than 4 MiB, the most a manifest file may be here — split it into several files (a ConfigMap or Secret holds at most 1 MiB of data)`);
  await editIsApplied();
  await cp.write('big-configmap.yaml', hostile('big', `ambassador: big\n# ${'x'.repeat(1024 * 1024)}`));
  await statusShows('sourceProblems', `${file('big-configmap.yaml')}: document 1 (line 9): ConfigMap "big" data and binaryData: 1.00 MiB (1048595 bytes) in total, more than the 1 MiB (1048576 bytes) the API server accepts in a ConfigMap — split it into several ConfigMaps`);
  await editIsApplied();
});

it('bytes that are not UTF-8: the Secret keeps its last good value (no U+FFFD reaches the upstream)', async () => {
  const header = async () => (JSON.parse((await get(port)).body) as { headers: Record<string, string> }).headers['x-api-key'];
  await waitUntil(async () => (await header()) === 'first-token', 5000, 'the first token');
  const bad = Buffer.from(secretManifest({ name: 'api', namespace: NS, data: { token: 'sec@nd' } }));
  bad[bad.indexOf('@')] = 0xff; // "sec\xFFnd": say, Latin-1 text saved as is
  await writeFile(file('.secret.tmp'), bad);
  await rename(file('.secret.tmp'), file('secret.yaml'));
  await statusShows('sourceProblems', `${file('secret.yaml')}: line 9, column 8: not UTF-8 text (byte 0xFF) — save the file as UTF-8; a binary value goes base64-encoded under a Secret's data (or a ConfigMap's binaryData)`);
  await editIsApplied();
  for (let i = 0; i < 5; i++) expect(await header()).toBe('first-token');
});

it('a config that takes the YAML parser seconds (a 0.4 MB flow list) stalls nothing: probes and other ambassadors\' edits go on', async () => {
  // About 2 s of parsing on an idle core here (more on a busy machine): done off the event loop, it
  // never delays an answer.
  await cp.write('slow.yaml', hostile('slow', `ambassador: slow\nlisteners: [${Array(200_000).fill('1').join(',')}]`));
  let slowest = 0;
  let probing = true;
  const probes = (async () => {
    while (probing) {
      const t = performance.now();
      expect((await fetch(`http://127.0.0.1:${cp.httpPort}/healthz`)).status).toBe(200);
      slowest = Math.max(slowest, performance.now() - t);
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  try {
    await editIsApplied();
    await statusShows('errors', `${file('slow.yaml')}:11: ConfigMap shop/slow: ambassador.yaml: listeners[0] (line 2): expected a map, found 1`, 20_000);
    await editIsApplied();
  } finally {
    probing = false;
    await probes;
  }
  process.stderr.write(`hostile-input: slowest /healthz answer while a large config was parsed: ${slowest.toFixed(0)} ms\n`);
  expect(slowest).toBeLessThan(500);
});
