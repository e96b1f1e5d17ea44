// What Node itself holds per idle Envoy: RSS per connection of a bare HTTP/2 server over TLS with
// client certificates (test/bench/peer/bare-h2-server.ts, run with the CLI's Node flags), each
// connection holding one open stream as an idle ADS stream does; then the same in plaintext (h2c),
// which tells TLS's part. The control plane's "per idle Envoy" row (peer.bench.ts) is the first
// plus grpc-js and its own state.
// Run: scripts/bench.sh node-floor   (BENCH_SYNC_STREAMS connections, default 1,000)
import http2 from 'node:http2';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { makeXdsCredentials } from '../../control-plane/src/demo/xds-credentials.ts';
import { startProcess, stopAll } from '../helpers/processes.ts';
import { CLI_NODE_FLAGS } from '../helpers/scenario.ts';
import { rssBytes } from './peer/harness.ts';
import { machine } from './peer/report.ts';

const CONNECTIONS = Number(process.env.BENCH_SYNC_STREAMS ?? 1000);

const work = await mkdtemp(join(tmpdir(), 'xds-node-floor-'));
const sessions: http2.ClientHttp2Session[] = [];
try {
  const credentials = await makeXdsCredentials(join(work, 'pki'));
  const client = await credentials.client('bench', 'floor');
  const tls = { ca: await readFile(credentials.caFile), cert: await readFile(client.certFile), key: await readFile(client.keyFile), servername: 'localhost' };
  console.log(`bare Node HTTP/2 server, one open stream per connection: ${machine()}`);
  for (const secure of [true, false]) {
    const server = startProcess({
      name: 'bare-h2-server',
      cmd: process.execPath,
      args: [...CLI_NODE_FLAGS, new URL('./peer/bare-h2-server.ts', import.meta.url).pathname, ...(secure ? [credentials.server.certFile, credentials.server.keyFile, credentials.caFile] : [])],
    });
    const port = Number((await server.waitForOutput(/listening (\d+)/))[1]);
    await sleep(1000);
    const idle = await rssBytes(server.child.pid ?? 0);
    for (let i = 0; i < CONNECTIONS; i += 50) {
      await Promise.all(Array.from({ length: Math.min(50, CONNECTIONS - i) }, () => new Promise<void>((resolve, reject) => {
        const session = secure ? http2.connect(`https://127.0.0.1:${port}`, tls) : http2.connect(`http://127.0.0.1:${port}`);
        sessions.push(session);
        session.on('error', reject);
        const stream = session.request({ ':method': 'POST', ':path': '/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources', 'content-type': 'application/grpc' }, { endStream: false });
        stream.on('response', () => resolve());
        stream.on('error', reject);
      })));
    }
    await sleep(2000);
    const loaded = await rssBytes(server.child.pid ?? 0);
    console.log(`  ${secure ? 'TLS with client certificates' : 'plaintext (h2c)'}: RSS at idle ${(idle / 2 ** 20).toFixed(1)} MB, with ${CONNECTIONS.toLocaleString('en')} connections ${(loaded / 2 ** 20).toFixed(1)} MB: ${((loaded - idle) / CONNECTIONS / 1024).toFixed(1)} KB per connection`);
    for (const s of sessions.splice(0)) s.destroy();
    await server.stop();
  }
} finally {
  for (const s of sessions) s.destroy();
  await stopAll();
  await rm(work, { recursive: true, force: true });
}
