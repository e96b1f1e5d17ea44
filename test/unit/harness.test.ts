// Proves the test harness: a demo upstream, a real Envoy with a static bootstrap, a real request
// through it, and the admin helpers (stats, clusters, config dump).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startUpstream } from '../../control-plane/src/demo/upstream.ts';
import type { Upstream } from '../../control-plane/src/demo/upstream.ts';
import { startEnvoy } from '../helpers/envoy.ts';
import type { EnvoyHandle } from '../helpers/envoy.ts';
import { freePorts } from '../helpers/ports.ts';
import { runningProcesses, startProcess, stopAll } from '../helpers/processes.ts';

const CLUSTER = 'harness_upstream';

function staticBootstrap(adminPort: number, listenerPort: number, upstreamPort: number): object {
  return {
    node: { id: 'harness-test', cluster: 'harness' },
    admin: { address: { socket_address: { address: '127.0.0.1', port_value: adminPort } } },
    static_resources: {
      listeners: [
        {
          name: 'ingress',
          address: { socket_address: { address: '127.0.0.1', port_value: listenerPort } },
          filter_chains: [
            {
              filters: [
                {
                  name: 'envoy.filters.network.http_connection_manager',
                  typed_config: {
                    '@type':
                      'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
                    stat_prefix: 'ingress',
                    route_config: {
                      name: 'local',
                      virtual_hosts: [
                        { name: 'all', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: CLUSTER } }] },
                      ],
                    },
                    http_filters: [
                      {
                        name: 'envoy.filters.http.router',
                        typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' },
                      },
                    ],
                  },
                },
              ],
            },
          ],
        },
      ],
      clusters: [
        {
          name: CLUSTER,
          type: 'STATIC',
          connect_timeout: '1s',
          load_assignment: {
            cluster_name: CLUSTER,
            endpoints: [
              { lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: upstreamPort } } } }] },
            ],
          },
        },
      ],
    },
  };
}

interface EchoBody {
  upstream: string;
  path: string;
  method: string;
  headers: Record<string, string>;
}

describe('test harness', () => {
  let upstream: Upstream;
  let envoy: EnvoyHandle;
  let listenerPort: number;

  beforeAll(async () => {
    upstream = await startUpstream({ name: 'harness-v1' });
    const [adminPort, port] = await freePorts(2);
    if (adminPort === undefined || port === undefined) throw new Error('freePorts(2) returned too few ports');
    listenerPort = port;
    envoy = await startEnvoy({ name: 'harness-envoy', bootstrap: staticBootstrap(adminPort, listenerPort, upstream.port) });
  });

  afterAll(async () => {
    await stopAll();
    await upstream?.close();
  });

  it('routes a real request through Envoy to the upstream', async () => {
    const response = await fetch(`http://127.0.0.1:${listenerPort}/hello?x=1`, {
      headers: { 'X-Harness': 'yes' },
      signal: AbortSignal.timeout(5000),
    });
    expect(response.status).toBe(200);
    const body = (await response.json()) as EchoBody;
    expect(body.upstream).toBe('harness-v1');
    expect(body.path).toBe('/hello?x=1');
    expect(body.method).toBe('GET');
    expect(body.headers['x-harness']).toBe('yes');
    expect(body.headers['x-envoy-expected-rq-timeout-ms']).toBeDefined(); // it did pass through Envoy

    expect(upstream.requests.some((r) => r.path === '/hello?x=1' && r.headers['x-harness'] === 'yes')).toBe(true);
  });

  it('reports the request in Envoy stats, clusters and config dump', async () => {
    const name = `cluster.${CLUSTER}.upstream_rq_total`;
    await envoy.waitFor(async () => ((await envoy.stats(name)).get(name) ?? 0) >= 1, 5000, `${name} >= 1`);
    expect((await envoy.stats()).get(name)).toBeGreaterThanOrEqual(1);
    expect(await envoy.clusters()).toContain(`${CLUSTER}::127.0.0.1:${upstream.port}::rq_success::`);
    const dump = (await envoy.configDump('static_clusters')) as { configs?: { cluster?: { name?: string } }[] };
    expect(dump.configs?.map((c) => c.cluster?.name)).toContain(CLUSTER);
  });

  it('injects upstream failures and delays', async () => {
    upstream.setBehaviour({ failNext: 1, failStatus: 502 });
    const failed = await fetch(`http://127.0.0.1:${listenerPort}/fail`, { signal: AbortSignal.timeout(5000) });
    expect(failed.status).toBe(502);
    await failed.text();
    upstream.setBehaviour({ delayMs: 200 });
    const started = Date.now();
    const slow = await fetch(`http://127.0.0.1:${listenerPort}/slow`, { signal: AbortSignal.timeout(5000) });
    expect(slow.status).toBe(200);
    expect(((await slow.json()) as EchoBody).upstream).toBe('harness-v1');
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    upstream.reset();
    expect(upstream.requests).toHaveLength(0);
  });

  it('waitFor names what it waited for on timeout', async () => {
    await expect(envoy.waitFor(async () => false, 100, 'something that never happens')).rejects.toThrow(
      /something that never happens/,
    );
  });

  it('a process that fails to start reports its output', async () => {
    const proc = startProcess({ name: 'false-proc', cmd: 'sh', args: ['-c', 'echo boom >&2; exit 3'] });
    await expect(proc.waitForOutput(/never/, 5000)).rejects.toThrow(/boom/);
    expect((await proc.waitForExit()).code).toBe(3);
    expect(runningProcesses()).not.toContain(proc);
  });
});
