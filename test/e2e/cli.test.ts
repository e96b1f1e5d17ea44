// The command line as a user meets it: serve (with grpcurl against it), bootstrap, validate, --help.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENVOY_PATH } from '../helpers/envoy.ts';
import { freePorts } from '../helpers/ports.ts';
import { startProcess, stopAll } from '../helpers/processes.ts';
import { CLI, REPO_ROOT, configMap, startControlPlaneProcess, xdsCredentials, type ControlPlaneProcess } from '../helpers/scenario.ts';

const run = promisify(execFile);
const GRPCURL = join(REPO_ROOT, '.tools', 'bin', 'grpcurl');

async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, [CLI, ...args], { timeout: 20_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

const GOOD = configMap({ name: 'ok', namespace: 'shop', config: `
ambassador: orders
listeners:
  - name: api
    port: 8080
    routes: [{match: {prefix: /}, upstream: backend}]
upstreams:
  backend: {endpoints: ["backend.shop.svc:80"]}` });

describe('grpcurl against serve', () => {
  let cp: ControlPlaneProcess;
  beforeAll(async () => {
    cp = await startControlPlaneProcess({ 'ok.yaml': GOOD });
  });
  afterAll(stopAll);

  // An operator's client certificate: the port asks every client for one.
  const grpcurl = async (...args: string[]) => {
    const creds = await xdsCredentials();
    const me = await creds.client('xds-system', 'operator');
    return (await run(GRPCURL, ['-cacert', creds.caFile, '-cert', me.certFile, '-key', me.keyFile, ...args])).stdout;
  };

  it('refuses a plaintext client and a TLS client without a certificate', async () => {
    await expect(run(GRPCURL, ['-connect-timeout', '2', '-plaintext', `127.0.0.1:${cp.xdsPort}`, 'list'])).rejects.toThrow();
    const creds = await xdsCredentials();
    await expect(run(GRPCURL, ['-connect-timeout', '2', '-cacert', creds.caFile, `127.0.0.1:${cp.xdsPort}`, 'list'])).rejects.toThrow();
  });

  it('lists the services through server reflection, with no proto files', async () => {
    const services = (await grpcurl(`127.0.0.1:${cp.xdsPort}`, 'list')).trim().split('\n');
    expect(services).toEqual(['envoy.service.discovery.v3.AggregatedDiscoveryService', 'envoy.service.status.v3.ClientStatusDiscoveryService', 'grpc.health.v1.Health', 'xds_ambassador.admin.v1.AdminService']);
  });

  it('describes the ADS service and its messages', async () => {
    const svc = await grpcurl(`127.0.0.1:${cp.xdsPort}`, 'describe', 'envoy.service.discovery.v3.AggregatedDiscoveryService');
    expect(svc).toContain('rpc StreamAggregatedResources ( stream .envoy.service.discovery.v3.DiscoveryRequest ) returns ( stream .envoy.service.discovery.v3.DiscoveryResponse )');
    const msg = await grpcurl(`127.0.0.1:${cp.xdsPort}`, 'describe', 'envoy.service.discovery.v3.DiscoveryRequest');
    expect(msg).toContain('repeated string resource_names');
    // Types from other files resolve too (the descriptors carry their dependencies).
    const node = await grpcurl(`127.0.0.1:${cp.xdsPort}`, 'describe', 'envoy.config.core.v3.Node');
    expect(node).toContain('.google.protobuf.Struct metadata = 3;');
  });

  it('reports SERVING on grpc.health.v1 once the sources are synced', async () => {
    const overall = JSON.parse(await grpcurl(`127.0.0.1:${cp.xdsPort}`, 'grpc.health.v1.Health/Check')) as { status: string };
    expect(overall.status).toBe('SERVING');
    const ads = JSON.parse(await grpcurl('-d', '{"service":"envoy.service.discovery.v3.AggregatedDiscoveryService"}', `127.0.0.1:${cp.xdsPort}`, 'grpc.health.v1.Health/Check')) as { status: string };
    expect(ads.status).toBe('SERVING');
  });

  it('serves /healthz, /readyz, /metrics and /debug/status on the HTTP port', async () => {
    const base = `http://127.0.0.1:${cp.httpPort}`;
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toContain('xds_ambassador_groups 1');
    const status = await cp.status();
    expect(status.groups.map((g) => g.group)).toEqual(['shop/orders']);
    expect((await fetch(`${base}/nope`)).status).toBe(404);
  });

  it('shuts down cleanly on SIGTERM', async () => {
    const exit = await cp.proc.stop('SIGTERM', 5000);
    expect(exit).toEqual({ code: 0, signal: null });
    expect(cp.proc.output()).toContain('"signal":"SIGTERM"');
  });
});

describe('bootstrap', () => {
  /** Envoy's own --mode validate on a bootstrap file. */
  async function envoyValidates(file: string): Promise<void> {
    const v = await run(ENVOY_PATH, ['--mode', 'validate', '-c', file, '--disable-hot-restart']);
    // (exit code 0, or run() would have thrown; 'configuration' alone also matches Envoy's info log lines)
    expect(v.stdout + v.stderr).toContain(`configuration '${file}' OK`);
  }

  it('writes a token-authenticated bootstrap and its SDS files that Envoy itself validates', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'xds-bootstrap-'));
    try {
      await writeFile(join(dir, 'token'), 'not-checked-by-envoy');
      const r = await cli('bootstrap', '--node-id', 'orders-7d9f-abcde', '--ambassador', 'orders', '--namespace', 'shop', '--xds-address', 'xds-ambassador.xds-system.svc:18000',
        '--admin-port', '9902', '--xds-ca', (await xdsCredentials()).caFile, '--xds-token-file', join(dir, 'token'), '--output-dir', dir);
      expect(r.code).toBe(0);
      expect(r.stderr).toBe(`wrote ${['envoy.yaml', 'xds-server-ca.sds.json', 'xds-token.sds.json'].map((f) => join(dir, f)).join(', ')}\n`);
      const yaml = await readFile(join(dir, 'envoy.yaml'), 'utf8');
      expect(yaml).toContain('id: orders-7d9f-abcde');
      expect(yaml).toContain('cluster: orders');
      expect(yaml).toContain('namespace: shop');
      expect(yaml).toContain('port_value: 9902');
      expect(yaml).toContain('address: xds-ambassador.xds-system.svc');
      expect(yaml).toContain('sni: xds-ambassador.xds-system.svc');
      expect(await readFile(join(dir, 'xds-token.sds.json'), 'utf8')).toContain(`"filename": "${join(dir, 'token')}"`);
      await envoyValidates(join(dir, 'envoy.yaml'));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('writes a client-certificate bootstrap and its SDS files that Envoy itself validates', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'xds-bootstrap-'));
    try {
      const creds = await xdsCredentials();
      const me = await creds.client('shop', 'orders');
      const r = await cli('bootstrap', '--node-id', 'orders-1', '--ambassador', 'orders', '--namespace', 'shop', '--xds-address', '127.0.0.1:18000',
        '--xds-ca', creds.caFile, '--xds-client-cert', me.certFile, '--xds-client-key', me.keyFile, '--xds-server-name', 'localhost', '--output-dir', dir);
      expect(r.code).toBe(0);
      expect(r.stderr).toContain(join(dir, 'envoy.yaml'));
      await envoyValidates(join(dir, 'envoy.yaml'));
      const noDir = await cli('bootstrap', '--node-id', 'a', '--ambassador', 'b', '--xds-ca', creds.caFile, '--xds-client-cert', me.certFile, '--xds-client-key', me.keyFile);
      expect(noDir.code).toBe(2);
      expect(noDir.stderr).toContain('--output-dir DIR is needed: Envoy reads the CA and the token or certificate through file-based SDS configs');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('writes a Delta (incremental xDS) bootstrap with --delta, which Envoy itself validates; State-of-the-World without it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'xds-bootstrap-'));
    try {
      const creds = await xdsCredentials();
      const me = await creds.client('shop', 'orders');
      const common = ['--node-id', 'orders-1', '--ambassador', 'orders', '--namespace', 'shop', '--xds-ca', creds.caFile, '--xds-client-cert', me.certFile, '--xds-client-key', me.keyFile];
      expect((await cli('bootstrap', ...common, '--delta', '--output-dir', join(dir, 'delta'))).code).toBe(0);
      expect((await cli('bootstrap', ...common, '--output-dir', join(dir, 'sotw'))).code).toBe(0);
      const apiType = async (d: string) => /api_type: (\w+)/.exec(await readFile(join(dir, d, 'envoy.yaml'), 'utf8'))?.[1];
      expect(await apiType('delta')).toBe('DELTA_GRPC');
      expect(await apiType('sotw')).toBe('GRPC');
      await envoyValidates(join(dir, 'delta', 'envoy.yaml'));
      const plain = await cli('bootstrap', '--node-id', 'a', '--ambassador', 'b', '--insecure', '--delta');
      expect(plain.stdout).toContain('api_type: DELTA_GRPC');
      expect((await cli('bootstrap', '--help')).stdout).toContain('--delta');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('--ready-port: a listener that answers GET /ready only (for a kubelet probe), from the admin port on loopback', { timeout: 90_000 }, async () => {
    const [admin, ready, nothing] = (await freePorts(3)) as [number, number, number];
    const dir = await mkdtemp(join(tmpdir(), 'xds-bootstrap-'));
    try {
      // No control plane at the xDS address: Envoy starts its listeners once its first config has
      // arrived, or once the initial fetch gives up (15 s); then /ready says what admin says.
      const r = await cli('bootstrap', '--node-id', 'a', '--ambassador', 'b', '--insecure', '--xds-address', `127.0.0.1:${nothing}`, '--admin-port', String(admin), '--ready-port', String(ready));
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('address: 0.0.0.0');
      await writeFile(join(dir, 'envoy.yaml'), r.stdout);
      const envoy = startProcess({ name: 'envoy', cmd: ENVOY_PATH, args: ['-c', join(dir, 'envoy.yaml'), '--disable-hot-restart'] });
      const get = async (path: string, init?: RequestInit) => {
        for (let i = 0; i < 600; i++) {
          try {
            return await fetch(`http://127.0.0.1:${ready}${path}`, init);
          } catch {
            await new Promise((resolve) => setTimeout(resolve, 100));
          }
        }
        throw new Error(`ready listener not up:\n${envoy.output()}`);
      };
      const viaReady = await get('/ready');
      const fromAdmin = await fetch(`http://127.0.0.1:${admin}/ready`);
      expect([viaReady.status, await viaReady.text()]).toEqual([fromAdmin.status, await fromAdmin.text()]);
      expect((await get('/stats')).status).toBe(404);
      expect((await get('/quitquitquit', { method: 'POST' })).status).toBe(404);
      expect((await get('/ready', { method: 'POST' })).status).toBe(404);
      await envoy.stop();
      const same = await cli('bootstrap', '--node-id', 'a', '--ambassador', 'b', '--insecure', '--ready-port', '9901');
      expect(same.code).toBe(2);
      expect(same.stderr).toContain('--ready-port must differ from --admin-port');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('asks how the sidecar proves its identity', async () => {
    const none = await cli('bootstrap', '--node-id', 'a', '--ambassador', 'b');
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('choose how the sidecar proves its identity: --xds-token-file FILE');
    const noCa = await cli('bootstrap', '--node-id', 'a', '--ambassador', 'b', '--xds-token-file', '/t');
    expect(noCa.code).toBe(2);
    expect(noCa.stderr).toContain('--xds-ca is required');
  });

  it('names the missing or wrong flag', async () => {
    const missing = await cli('bootstrap', '--ambassador', 'orders');
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('--node-id is required');
    const bad = await cli('bootstrap', '--node-id', 'a', '--ambassador', 'b', '--xds-address', 'nowhere', '--insecure');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('--xds-address: expected HOST:PORT');
    const unknown = await cli('bootstrap', '--node-id', 'a', '--ambassador', 'b', '--colour', 'red');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("Unknown option '--colour'");
  });
});

describe('validate', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'xds-validate-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('accepts the shipped examples', async () => {
    const r = await cli('validate', join(REPO_ROOT, 'deploy', 'examples'));
    expect(r.stdout).toMatch(/^ok: \d+ ambassadors? \(/);
    expect(r.code).toBe(0);
  });

  it('lists every error and exits 1', async () => {
    await writeFile(join(dir, 'good.yaml'), GOOD);
    await writeFile(join(dir, 'bad.yaml'), configMap({ name: 'bad', namespace: 'shop', config: `
ambassador: payments
listeners:
  - name: api
    port: 99999
    routes: [{match: {prefix: /}, upstream: nowhere}]` }));
    await writeFile(join(dir, 'broken.yaml'), 'kind: ConfigMap\nmetadata: {name: [x\n');
    const r = await cli('validate', dir);
    expect(r.code).toBe(1);
    // The line in the file (13), then the line within its ambassador.yaml (4).
    expect(r.stdout).toContain(`error: ${join(dir, 'bad.yaml')}:13: ConfigMap shop/bad: ambassador.yaml: listeners[0].port (line 4): expected a port number 1-65535, found 99999`);
    expect(r.stdout).toContain(`${join(dir, 'broken.yaml')}`);
    expect(r.stdout).toMatch(/^2 errors$/m);
  });

  it('names the file and the ConfigMap of an alias bomb, and of bytes that are not UTF-8', async () => {
    const bombs = join(dir, 'bombs');
    await mkdir(bombs);
    const laughs = ['a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]', ...['b', 'c', 'd', 'e'].map((k, i) => `${k}: &${k} [${Array(10).fill(`*${'abcd'[i]}`).join(', ')}]`), `f: [${Array(10).fill('*e').join(', ')}]`].join('\n');
    await writeFile(join(bombs, 'laughs.yaml'), configMap({ name: 'laughs', namespace: 'shop', config: laughs }));
    await writeFile(join(bombs, 'latin1.yaml'), Buffer.concat([Buffer.from(GOOD.replace('name: ok', 'name: latin1')), Buffer.from('# caf\xe9\n', 'latin1')]));
    const r = await cli('validate', bombs);
    expect(r.stdout).toBe([
      `error: ${join(bombs, 'latin1.yaml')}: line ${GOOD.split('\n').length}, column 6: not UTF-8 text (byte 0xE9) — save the file as UTF-8; a binary value goes base64-encoded under a Secret's data (or a ConfigMap's binaryData)`,
      `error: ${join(bombs, 'laughs.yaml')}:13: ConfigMap shop/laughs: ambassador.yaml (line 4): YAML aliases: the aliases (*name) expand to more than 10000 values — write the repeated parts out, or use fewer aliases`,
      '2 errors',
      '',
    ].join('\n'));
    expect(r.code).toBe(1);
  });

  it('refuses a FIFO (which it used to wait on forever)', async () => {
    const fifo = join(dir, 'pipe.yaml');
    await run('mkfifo', [fifo]);
    const started = performance.now();
    const r = await cli('validate', fifo);
    expect(performance.now() - started).toBeLessThan(10_000);
    expect(r.stdout).toBe(`error: ${fifo}: not a regular file (a FIFO) — only manifest files (and folders of them) are read\n1 error\n`);
    expect(r.code).toBe(1);
  });

  it('explains a path that does not exist', async () => {
    const r = await cli('validate', join(dir, 'missing.yaml'));
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('missing.yaml: no such file or directory');
  });
});

describe('help', () => {
  it('prints usage for the tool and every command', async () => {
    const top = await cli('--help');
    expect(top.code).toBe(0);
    for (const c of ['serve', 'bootstrap', 'validate']) expect(top.stdout).toContain(`xds-ambassador ${c}`);
    for (const c of ['serve', 'bootstrap', 'validate']) {
      const r = await cli(c, '--help');
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^xds-ambassador ${c}`));
    }
    const wrong = await cli('serv');
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain('unknown command "serv"');
  });
});
