// README command 1: the control plane on deploy/examples, two demo upstreams and a real Envoy
// ambassador from a generated bootstrap, all on loopback. Ctrl-C stops everything it started.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { assertFree, Supervisor } from './supervisor.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const EXAMPLES = path.join(ROOT, 'deploy', 'examples');
const MANIFEST = path.join('deploy', 'examples', 'movies-ambassador.yaml');
const PORTS = { listener: 8000, v1: 9001, v2: 9002, xds: 18000, http: 19000, admin: 9901 };

const sup = new Supervisor();
const workDir = mkdtempSync(path.join(tmpdir(), 'xds-ambassador-demo-'));
sup.onStop(() => rmSync(workDir, { recursive: true, force: true }));

async function main(): Promise<void> {
  for (const [what, port] of Object.entries(PORTS)) await assertFree(port, what);
  const node = process.execPath;
  for (const v of ['v1', 'v2'] as const) {
    sup.start(`movies-${v}`, node, [path.join(ROOT, 'control-plane/src/demo/upstream-main.ts'), '--name', `movies-${v}`, '--port', String(PORTS[v])], (l) => l);
  }
  const creds = await sup.startControlPlane(EXAMPLES, PORTS);
  const operator = await creds.client('xds-system', 'operator');
  const grpcurlTls = `${path.join(ROOT, '.tools/bin/grpcurl')} -cacert ${creds.caFile} -cert ${operator.certFile} -key ${operator.keyFile}`;
  const grpcurl = `${grpcurlTls} 127.0.0.1:${PORTS.xds}`;

  await sup.startEnvoy(path.join(workDir, 'envoy-bootstrap.json'), { nodeId: 'demo-app-1', ambassador: 'movies', namespace: 'demo', serviceAccount: 'movies', xdsAddress: `127.0.0.1:${PORTS.xds}`, adminPort: PORTS.admin });

  process.stdout.write(`
The ambassador is up: Envoy (admin http://127.0.0.1:${PORTS.admin}) gets its whole config from the
control plane (xDS over TLS on 127.0.0.1:${PORTS.xds}, status on http://127.0.0.1:${PORTS.http}),
authenticated as ServiceAccount movies of namespace demo by its client certificate.

  curl -s localhost:${PORTS.listener}/movies                      # 90% movies-v1, 10% movies-v2
  curl -s -H 'x-canary: 1' localhost:${PORTS.listener}/movies     # always movies-v2
  for i in $(seq 20); do curl -s localhost:${PORTS.listener}/ | grep -o 'movies-v.'; done | sort | uniq -c

Hot reload: edit ${MANIFEST} (e.g. set the weights to 50/50) and save;
the next requests follow the new split — no restart. Break the YAML and save: the error is
printed here and Envoy keeps the last good config.

  curl -s localhost:${PORTS.http}/debug/status                    # versions, errors, rejections
  curl -s localhost:${PORTS.admin}/config_dump | less              # what Envoy applied

The xDS port is TLS and asks for a client certificate; an operator's, from the demo's throwaway CA
(CSDS shows what the Envoy has; ListAmbassadors versions, errors and Envoys):

  ${grpcurl} list
  ${grpcurl} grpc.health.v1.Health/Check
  ${grpcurlTls} -d '{}' 127.0.0.1:${PORTS.xds} envoy.service.status.v3.ClientStatusDiscoveryService/FetchClientStatus
  ${grpcurl} xds_ambassador.admin.v1.AdminService/ListAmbassadors

Ctrl-C stops everything.
`);
}

main().catch((e: unknown) => {
  process.stderr.write(`demo: ${e instanceof Error ? e.message : String(e)}\n`);
  void sup.stop(1);
});
