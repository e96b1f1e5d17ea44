// Snapshot versions are content hashes: the same config gives the same versions in any process
// (replicas, restarts), independent of YAML key order and map order; a change touches only the
// version of the type it changes. Plus: consistencyProblems reports dangling references.
import { execFileSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import path from 'node:path';
import type protobuf from 'protobufjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { consistencyProblems } from '../../control-plane/src/cache/consistency.ts';
import { encodeResource } from '../../control-plane/src/cache/encode.ts';
import { buildSnapshot, type Snapshot } from '../../control-plane/src/cache/snapshot.ts';
import { formatConfigError } from '../../control-plane/src/model/errors.ts';
import { parseConfigMap } from '../../control-plane/src/model/parse-configmap.ts';
import type { AmbassadorConfig } from '../../control-plane/src/model/schema.ts';
import { translateAmbassador } from '../../control-plane/src/translate/ambassador.ts';
import type { XdsResource } from '../../control-plane/src/translate/types.ts';
import { CLUSTER, ENDPOINT, PUSH_ORDER, ROUTE, SHORT_NAME } from '../../control-plane/src/xds/type-urls.ts';
import { xdsRoot } from '../../control-plane/src/xds/protos.ts';

const CONFIG = `
ambassador: orders
listeners:
  - name: web
    port: 8000
    routes:
      - match: {prefix: /api/, headers: {x-canary: "1"}}
        upstream: b
        timeout: 5s
      - match: {prefix: /}
        split: [{upstream: a, weight: 90}, {upstream: b, weight: 10}]
        retries: {attempts: 2, perTryTimeout: 1s}
upstreams:
  a:
    endpoints: ["10.0.0.1:80"]
    connectTimeout: 1s
  b:
    endpoints: ["10.0.0.2:80"]
`;

// The same config with every map's keys in another order, and the upstreams swapped.
const REORDERED = `
upstreams:
  b:
    endpoints: ["10.0.0.2:80"]
  a:
    connectTimeout: 1s
    endpoints: ["10.0.0.1:80"]
listeners:
  - routes:
      - upstream: b
        timeout: 5s
        match: {headers: {x-canary: "1"}, prefix: /api/}
      - retries: {perTryTimeout: 1s, attempts: 2}
        split: [{weight: 90, upstream: a}, {weight: 10, upstream: b}]
        match: {prefix: /}
    port: 8000
    name: web
ambassador: orders
`;

type Versions = Record<'snapshot' | 'CDS' | 'EDS' | 'LDS' | 'RDS', string>;

function parse(text: string): AmbassadorConfig {
  const r = parseConfigMap({ kind: 'ConfigMap', namespace: 'shop', name: 'orders', labels: {}, origin: 'test', data: { 'ambassador.yaml': text } });
  if (!r.ok) throw new Error(r.errors.map(formatConfigError).join('\n'));
  return r.config;
}

const GROUP = { namespace: 'shop', ambassador: 'orders' };

function snapshotOf(root: protobuf.Root, resources: readonly XdsResource[]): Snapshot {
  return buildSnapshot(resources.map((r) => encodeResource(root, r)), ['ConfigMap shop/orders']);
}

function versionsOf(s: Snapshot): Versions {
  const v = { snapshot: s.version } as Versions;
  for (const t of PUSH_ORDER) v[SHORT_NAME[t] as keyof Versions] = s.types[t].version;
  return v;
}

let root: protobuf.Root;
let base: Versions;
beforeAll(async () => {
  root = await xdsRoot();
  base = versionsOf(snapshotOf(root, translateAmbassador(GROUP, parse(CONFIG))));
});

const versions = (text: string) => versionsOf(snapshotOf(root, translateAmbassador(GROUP, parse(text))));

/** The types whose version differs (the snapshot version must differ too whenever one does). */
function changed(a: Versions, b: Versions): string[] {
  return (Object.keys(a) as (keyof Versions)[]).filter((k) => a[k] !== b[k]);
}

describe('snapshot versions', () => {
  it('are 16 lowercase hex characters, and differ per type', () => {
    for (const v of Object.values(base)) expect(v).toMatch(/^[0-9a-f]{16}$/);
    expect(new Set(Object.values(base)).size).toBe(6); // five types (SDS empty here) and the snapshot
  });

  it('are the same in an independent process (its own module instances and protobuf root)', () => {
    const url = (rel: string) => pathToFileURL(path.join(import.meta.dirname, '..', '..', 'control-plane', 'src', rel)).href;
    const script = `
      import { encodeResource } from ${JSON.stringify(url('cache/encode.ts'))};
      import { buildSnapshot } from ${JSON.stringify(url('cache/snapshot.ts'))};
      import { parseConfigMap } from ${JSON.stringify(url('model/parse-configmap.ts'))};
      import { translateAmbassador } from ${JSON.stringify(url('translate/ambassador.ts'))};
      import { PUSH_ORDER, SHORT_NAME } from ${JSON.stringify(url('xds/type-urls.ts'))};
      import { xdsRoot } from ${JSON.stringify(url('xds/protos.ts'))};
      const r = parseConfigMap({ kind: 'ConfigMap', namespace: 'shop', name: 'orders', labels: {}, origin: 'child', data: { 'ambassador.yaml': process.env.CONFIG } });
      if (!r.ok) throw new Error(JSON.stringify(r.errors));
      const root = await xdsRoot();
      const s = buildSnapshot(translateAmbassador({ namespace: 'shop', ambassador: 'orders' }, r.config).map((x) => encodeResource(root, x)), ['ConfigMap shop/orders']);
      const v = { snapshot: s.version };
      for (const t of PUSH_ORDER) v[SHORT_NAME[t]] = s.types[t].version;
      process.stdout.write(JSON.stringify(v));
    `;
    const out = execFileSync(process.execPath, ['--no-warnings', '--input-type=module', '-e', script], {
      cwd: path.join(import.meta.dirname, '..', '..'),
      env: { ...process.env, CONFIG: REORDERED },
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(JSON.parse(out)).toEqual(base);
  });

  it('are the same when built twice in this process', () => {
    expect(versions(CONFIG)).toEqual(base);
  });

  it('do not depend on YAML key order or the order of upstreams in the map', () => {
    expect(versions(REORDERED)).toEqual(base);
  });

  it('do not depend on the order in which resources reach the snapshot', () => {
    const resources = translateAmbassador(GROUP, parse(CONFIG));
    expect(versionsOf(snapshotOf(root, [...resources].reverse()))).toEqual(base);
  });

  it('changing one route changes only the RDS version', () => {
    expect(changed(base, versions(CONFIG.replace('timeout: 5s', 'timeout: 6s')))).toEqual(['snapshot', 'RDS']);
  });

  it('changing one endpoint changes only the EDS version', () => {
    expect(changed(base, versions(CONFIG.replace('10.0.0.2:80', '10.0.0.3:80')))).toEqual(['snapshot', 'EDS']);
  });

  it('changing a cluster setting changes only the CDS version', () => {
    expect(changed(base, versions(CONFIG.replace('connectTimeout: 1s', 'connectTimeout: 2s')))).toEqual(['snapshot', 'CDS']);
  });

  it('changing a listener port changes only the LDS version', () => {
    expect(changed(base, versions(CONFIG.replace('port: 8000', 'port: 8001')))).toEqual(['snapshot', 'LDS']);
  });
});

describe('consistencyProblems', () => {
  it('reports nothing for a translated valid config', () => {
    expect(consistencyProblems(snapshotOf(root, translateAmbassador(GROUP, parse(CONFIG))))).toEqual([]);
  });

  it('reports a route that references a missing cluster', () => {
    // checkConfig would reject this config; the translator is fed it directly, as a bug would.
    const config = parse(CONFIG);
    const broken: AmbassadorConfig = {
      ...config,
      listeners: config.listeners.map((l) => (l.protocol === 'http' ? { ...l, routes: [...l.routes, { match: { prefix: '/ghost/' }, upstream: 'ghost' }] } : l)),
    };
    expect(consistencyProblems(snapshotOf(root, translateAmbassador(GROUP, broken)))).toEqual([
      'shop/orders/web references missing cluster shop/orders/ghost',
    ]);
  });

  it('reports a missing route configuration and a missing endpoint assignment', () => {
    const resources = translateAmbassador(GROUP, parse(CONFIG));
    const without = resources.filter((r) => r.type !== ROUTE && !(r.type === ENDPOINT && r.name === 'shop/orders/a'));
    expect(without.some((r) => r.type === CLUSTER && r.name === 'shop/orders/a')).toBe(true);
    expect(consistencyProblems(snapshotOf(root, without))).toEqual([
      'shop/orders/web references missing route configuration shop/orders/web',
      'cluster shop/orders/a has no endpoint assignment shop/orders/a',
    ]);
  });
});
