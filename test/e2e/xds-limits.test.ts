// What one client can cost the control plane, tried against the real CLI's `serve`: a client that
// stops reading but keeps asking (and ACKing guessed nonces) holds at most one response in the
// server's memory and is cut off after --send-timeout, over State-of-the-World and Delta streams
// alike; connections that never finish a TLS handshake, or never open a stream, are closed after
// --idle-timeout.
import http2 from 'node:http2';
import net from 'node:net';
import tls from 'node:tls';
import { readFile } from 'node:fs/promises';
import type protobuf from 'protobufjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { xdsRoot } from '../../control-plane/src/xds/protos.ts';
import { CLUSTER, LISTENER, ROUTE } from '../../control-plane/src/xds/type-urls.ts';
import type { XdsCredentials } from '../../control-plane/src/demo/xds-credentials.ts';
import { stopAll } from '../helpers/processes.ts';
import { configMap, startControlPlaneProcess, waitUntil, xdsCredentials, type ControlPlaneProcess } from '../helpers/scenario.ts';

const SEND_TIMEOUT_S = 3;
const IDLE_TIMEOUT_S = 2;
const ATTACKERS = 10;
const ATTACK_MS = 12_000;
/** The bound this test asserts: RSS growth while ATTACKERS streams each try to make the server
 * buffer a ~0.9 MB RouteConfiguration over and over. Unbounded, this grew by gigabytes. */
const RSS_GROWTH_LIMIT_MB = 100;

let cp: ControlPlaneProcess;
let creds: XdsCredentials;

/** Half the attackers speak each protocol. */
type Protocol = 'sotw' | 'delta';
const PATH: Record<Protocol, string> = {
  sotw: '/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources',
  delta: '/envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources',
};
const messages: Partial<Record<Protocol, { request: protobuf.Type; response: protobuf.Type }>> = {};

const ROUTE_NAME = 'shop/big/api';

/** Many long routes: one RouteConfiguration of about 0.9 MB, under the 1 MiB ConfigMap limit. */
function bigConfig(edit = 0): string {
  const pad = 'x'.repeat(240);
  const routes = Array.from({ length: 2800 }, (_, i) => `      - {match: {prefix: /r${i}-${edit}-${pad}}, upstream: backend}`).join('\n');
  return `
ambassador: big
listeners:
  - name: api
    port: 8080
    routes:
${routes}
upstreams:
  backend: {endpoints: ["backend.test:80"]}`;
}

beforeAll(async () => {
  creds = await xdsCredentials();
  const root = await xdsRoot();
  messages.sotw = { request: root.lookupType('envoy.service.discovery.v3.DiscoveryRequest'), response: root.lookupType('envoy.service.discovery.v3.DiscoveryResponse') };
  messages.delta = { request: root.lookupType('envoy.service.discovery.v3.DeltaDiscoveryRequest'), response: root.lookupType('envoy.service.discovery.v3.DeltaDiscoveryResponse') };
  cp = await startControlPlaneProcess({ 'big.yaml': configMap({ name: 'big', namespace: 'shop', config: bigConfig() }) }, {
    extraArgs: ['--send-timeout', `${SEND_TIMEOUT_S}s`, '--idle-timeout', `${IDLE_TIMEOUT_S}s`],
  });
}, 120_000);
afterAll(stopAll);

async function rssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1]) / 1024;
}

async function metric(name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${cp.httpPort}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? NaN : Number(line.slice(name.length + 1));
}

function grpcFrame(protocol: Protocol, msg: Record<string, unknown>): Buffer {
  const requestType = messages[protocol]!.request;
  const body = requestType.encode(requestType.fromObject(msg)).finish();
  const frame = Buffer.alloc(5 + body.length);
  frame.writeUInt32BE(body.length, 1);
  frame.set(body, 5);
  return frame;
}

/** What a client asks next, having read a response of this type: ACK it, and subscribe to what
 * follows (LDS after CDS, the routes after LDS), as Envoy does. */
function answer(protocol: Protocol, r: { type: string; version?: string; nonce?: string }): Record<string, unknown>[] {
  if (protocol === 'sotw') {
    const names: Record<string, string[]> = { [CLUSTER]: [], [LISTENER]: [], [ROUTE]: [ROUTE_NAME] };
    return [
      { type_url: r.type, version_info: r.version, response_nonce: r.nonce, resource_names: names[r.type] ?? [] },
      ...(r.type === CLUSTER ? [{ type_url: LISTENER }] : []),
      ...(r.type === LISTENER ? [{ type_url: ROUTE, resource_names: [ROUTE_NAME] }] : []),
    ];
  }
  return [
    { type_url: r.type, response_nonce: r.nonce },
    ...(r.type === CLUSTER ? [{ type_url: LISTENER }] : []),
    ...(r.type === LISTENER ? [{ type_url: ROUTE, resource_names_subscribe: [ROUTE_NAME] }] : []),
  ];
}

/** Requests that would each make a server send something (answered even when nothing changed, or
 * resent), with ACKs of guessed nonces (the old scheme's `<stream>-<n>`). */
function pressure(protocol: Protocol, i: number, round: number): Record<string, unknown>[] {
  if (protocol === 'sotw') {
    return [
      ...[CLUSTER, LISTENER, ROUTE].map((type) => ({ type_url: type, version_info: 'v', response_nonce: `${i + 1}-${round}`, resource_names: type === ROUTE ? [ROUTE_NAME] : [] })),
      { type_url: ROUTE, resource_names: [ROUTE_NAME] },
    ];
  }
  return [
    ...[CLUSTER, LISTENER, ROUTE].map((type) => ({ type_url: type, response_nonce: `${i + 1}-${round}` })),
    // A name subscribed again is sent again: the client may have forgotten it.
    { type_url: ROUTE, resource_names_subscribe: [ROUTE_NAME] },
  ];
}

/** A raw HTTP/2 ADS stream with a valid client certificate: it behaves until it has the (large)
 * RouteConfiguration, ACKs everything, and then never reads another byte. */
async function nonReader(i: number, protocol: Protocol): Promise<{ session: http2.ClientHttp2Session; stream: http2.ClientHttp2Stream; closed: Promise<void> }> {
  const responseType = messages[protocol]!.response;
  const me = await creds.client('shop', 'default');
  const [ca, cert, key] = await Promise.all([readFile(creds.caFile), readFile(me.certFile), readFile(me.keyFile)]);
  const session = http2.connect(`https://127.0.0.1:${cp.xdsPort}`, { ca, cert, key, servername: 'localhost' });
  session.on('error', () => {});
  const stream = session.request({ ':method': 'POST', ':path': PATH[protocol], 'content-type': 'application/grpc', te: 'trailers' });
  stream.on('error', () => {});
  const closed = new Promise<void>((resolve) => stream.once('close', () => resolve()));
  const node = { id: `greedy-${protocol}-${i}`, cluster: 'big', metadata: { fields: { namespace: { stringValue: 'shop' } } } };
  let pending = Buffer.alloc(0);
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 5 && pending.length >= 5 + pending.readUInt32BE(1)) {
        const len = pending.readUInt32BE(1);
        const r = responseType.toObject(responseType.decode(pending.subarray(5, 5 + len))) as { version_info?: string; system_version_info?: string; nonce?: string; type_url?: string };
        pending = pending.subarray(5 + len);
        const type = r.type_url ?? '';
        for (const msg of answer(protocol, { type, version: r.version_info, nonce: r.nonce })) stream.write(grpcFrame(protocol, msg));
        if (type === ROUTE) {
          stream.off('data', onData);
          stream.pause(); // and never resumed: the flow-control window fills and stays full
          resolve();
        }
      }
    };
    stream.on('data', onData);
    stream.once('close', () => reject(new Error(`attacker ${protocol} ${i}: the stream closed before the routes arrived`)));
    stream.write(grpcFrame(protocol, { node, type_url: CLUSTER }));
  });
  return { session, stream, closed };
}

describe('a client that stops reading', () => {
  it(`costs at most one response of memory and is closed after --send-timeout (RSS growth under ${RSS_GROWTH_LIMIT_MB} MB with ${ATTACKERS} such streams)`, async () => {
    const pid = cp.proc.pid;
    // One edit first, so that the baseline already includes the heap a rebuild of this config needs.
    const served = async () => (await cp.status()).groups.find((g) => g.group === 'shop/big')?.served;
    const first = await served();
    await cp.write('big.yaml', configMap({ name: 'big', namespace: 'shop', config: bigConfig(1) }));
    await waitUntil(async () => (await served()) !== first, 20_000, 'the warm-up edit served');
    const protocolOf = (i: number): Protocol => (i % 2 === 0 ? 'sotw' : 'delta');
    const attackers = await Promise.all(Array.from({ length: ATTACKERS }, (_, i) => nonReader(i, protocolOf(i))));
    const baseline = await rssMb(pid);
    let peak = baseline;
    // A new RouteConfiguration: every attacker has ACKed the last one, so each is sent this one,
    // which it does not read.
    await cp.write('big.yaml', configMap({ name: 'big', namespace: 'shop', config: bigConfig(2) }));
    const until = Date.now() + ATTACK_MS;
    let round = 0;
    while (Date.now() < until) {
      round++;
      for (const [i, a] of attackers.entries()) {
        if (a.stream.closed) continue;
        for (const msg of pressure(protocolOf(i), i, round)) a.stream.write(grpcFrame(protocolOf(i), msg));
      }
      peak = Math.max(peak, await rssMb(pid));
      await new Promise((r) => setTimeout(r, 20));
    }
    const growth = peak - baseline;
    process.stderr.write(`xds-limits: RSS baseline ${baseline.toFixed(0)} MB, peak ${peak.toFixed(0)} MB (+${growth.toFixed(0)} MB) over ${round} rounds of ${ATTACKERS} streams\n`);
    expect(growth).toBeLessThan(RSS_GROWTH_LIMIT_MB);
    // Each stream was cut off: the server no longer counts it, and said why.
    await Promise.all(attackers.map((a) => a.closed));
    await waitUntil(async () => (await metric('xds_ambassador_streams')) === 0, 10_000, 'no open streams');
    expect(cp.proc.output()).toContain('has not read a');
    expect(cp.proc.output()).toContain(`response for ${SEND_TIMEOUT_S} s`);
    for (const a of attackers) a.session.destroy();
  }, 90_000);
});

describe('idle connections', () => {
  it(`closes 2,000 TCP connections that never start TLS, and TLS connections that never open a stream, after --idle-timeout (${IDLE_TIMEOUT_S} s)`, async () => {
    const started = Date.now();
    const closedAt: number[] = [];
    const lifetimes: number[] = [];
    // In batches, so that the kernel's accept queue (backlog 511) never overflows: a connection it
    // drops is not one the server ever held.
    const sockets: net.Socket[] = [];
    for (let batch = 0; batch < 20; batch++) {
      sockets.push(...await Promise.all(Array.from({ length: 100 }, () => new Promise<net.Socket>((resolve, reject) => {
        // Reading (so that the server's close is seen) but never sending a byte.
        const opened = Date.now();
        const s = net.connect(cp.xdsPort, '127.0.0.1', () => resolve(s)).resume();
        s.once('error', reject);
        s.once('close', () => { closedAt.push(Date.now()); lifetimes.push(Date.now() - opened); });
      }))));
    }
    const me = await creds.client('shop', 'default');
    const [ca, cert, key] = await Promise.all([readFile(creds.caFile), readFile(me.certFile), readFile(me.keyFile)]);
    const tlsClosedAt: number[] = [];
    const tlsSockets = await Promise.all(Array.from({ length: 50 }, () => new Promise<tls.TLSSocket>((resolve, reject) => {
      const opened = Date.now();
      const s = tls.connect({ host: '127.0.0.1', port: cp.xdsPort, ca, cert, key, servername: 'localhost', ALPNProtocols: ['h2'] }, () => resolve(s)).resume();
      s.once('error', reject);
      s.once('close', () => { tlsClosedAt.push(Date.now()); lifetimes.push(Date.now() - opened); });
    })));
    await waitUntil(async () => closedAt.length === sockets.length && tlsClosedAt.length === tlsSockets.length, 30_000, 'every idle connection closed by the server', 100)
      .catch((e: Error) => { throw new Error(`${e.message}: ${closedAt.length}/${sockets.length} TCP, ${tlsClosedAt.length}/${tlsSockets.length} TLS closed`); });
    const shortest = Math.min(...lifetimes);
    const longest = Math.max(...lifetimes);
    process.stderr.write(`xds-limits: ${lifetimes.length} idle connections closed ${shortest}-${longest} ms after they opened (all within ${Math.max(...closedAt, ...tlsClosedAt) - started} ms)\n`);
    // Not before the timeout (they were idle, not refused), and not long after it.
    expect(shortest).toBeGreaterThanOrEqual(IDLE_TIMEOUT_S * 1000 - 100);
    expect(longest).toBeLessThan(IDLE_TIMEOUT_S * 1000 + 3000);
    // And the port still serves: a real client completes a TLS handshake.
    const ok = await new Promise<boolean>((resolve) => {
      const s = tls.connect({ host: '127.0.0.1', port: cp.xdsPort, ca, cert, key, servername: 'localhost', ALPNProtocols: ['h2'] }, () => { s.destroy(); resolve(true); });
      s.once('error', () => resolve(false));
    });
    expect(ok).toBe(true);
  }, 60_000);
});
