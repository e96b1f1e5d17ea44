import tls from 'node:tls';
import net from 'node:net';
import { readFile } from 'node:fs/promises';
import { it } from 'vitest';
import { stopAll } from '../helpers/processes.ts';
import { configMap, startControlPlaneProcess, xdsCredentials } from '../helpers/scenario.ts';

it('debug', async () => {
  const creds = await xdsCredentials();
  const cp = await startControlPlaneProcess({ 'a.yaml': configMap({ name: 'big', namespace: 'shop', config: `
ambassador: big
listeners:
  - name: api
    port: 8080
    routes: [{match: {prefix: /}, upstream: backend}]
upstreams:
  backend: {endpoints: ["127.0.0.1:9"]}` }) }, { extraArgs: ['--send-timeout', '2s', '--idle-timeout', '2s'] });
  const me = await creds.client('shop', 'default');
  const [ca, cert, key] = await Promise.all([readFile(creds.caFile), readFile(me.certFile), readFile(me.keyFile)]);
  let closed = 0; const t0 = Date.now();
  for (let i = 0; i < 3; i++) {
    const s = tls.connect({ host: '127.0.0.1', port: cp.xdsPort, ca, cert, key, servername: 'localhost', ALPNProtocols: ['h2'] }, () => console.log('tls up', s.alpnProtocol));
    s.on('close', () => { closed++; console.log('closed after', Date.now() - t0); });
    s.on('error', (e) => console.log('err', e.message));
  }
  let rawClosed = 0;
  for (let i = 0; i < 3; i++) { const s = net.connect(cp.xdsPort, '127.0.0.1'); s.on('close', () => { rawClosed++; console.log('raw closed after', Date.now() - t0); }); s.on('error', () => {}); }
  await new Promise((r) => setTimeout(r, 8000));
  console.log('closed tls', closed, 'raw', rawClosed);
  await stopAll();
}, 60_000);
