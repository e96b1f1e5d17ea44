// TCP and Redis ambassadors with a real Envoy and real peers: byte-exact TCP round trips, idle
// timeout; Redis commands sharded over two real redis-server processes by consistent hashing.
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EnvoyHandle } from '../helpers/envoy.ts';
import { freePorts } from '../helpers/ports.ts';
import { stopAll } from '../helpers/processes.ts';
import { connectResp, startRedis, type RedisServer, type RespClient } from '../helpers/redis.ts';
import { configMap, startAmbassador, startControlPlaneProcess, waitUntil, type ControlPlaneProcess } from '../helpers/scenario.ts';
import { roundTrip, startTcpEcho, type TcpEchoServer } from '../helpers/tcp-echo.ts';

let echo: TcpEchoServer;
let shards: RedisServer[];
let sessions: RedisServer;
let cp: ControlPlaneProcess;
let envoy: EnvoyHandle;
let tcpPort: number;
let idlePort: number;
let redisPort: number;
let client: RespClient;

beforeAll(async () => {
  echo = await startTcpEcho();
  shards = await Promise.all([startRedis(), startRedis()]);
  sessions = await startRedis();
  [tcpPort, idlePort, redisPort] = await freePorts(3) as [number, number, number];
  cp = await startControlPlaneProcess({
    'data.yaml': configMap({
      name: 'data',
      namespace: 'shop',
      config: `
ambassador: data
listeners:
  - {name: stream, port: ${tcpPort}, protocol: tcp, upstream: echo}
  - {name: idle, port: ${idlePort}, protocol: tcp, upstream: echo, idleTimeout: 300ms}
  - name: cache
    port: ${redisPort}
    protocol: redis
    upstream: shards
    opTimeout: 1s
    routes: [{prefix: "session:", upstream: sessions}]
upstreams:
  echo: {endpoints: ["127.0.0.1:${echo.port}"]}
  shards: {endpoints: [${shards.map((s) => `"127.0.0.1:${s.port}"`).join(', ')}]}
  sessions: {endpoints: ["127.0.0.1:${sessions.port}"]}`,
    }),
  });
  envoy = await startAmbassador({ xdsPort: cp.xdsPort, ambassador: 'data', namespace: 'shop' });
  await waitUntil(async () => (await roundTrip(tcpPort, Buffer.from('ping'))).toString() === 'ping', 10_000, 'the TCP listener');
  client = await connectResp(redisPort);
  await waitUntil(async () => (await client.command('PING')) === 'PONG', 10_000, 'the Redis listener');
});

afterAll(async () => {
  await client?.close();
  await stopAll();
  await echo?.close();
});

describe('TCP ambassador', () => {
  it('round-trips large payloads byte for byte, several connections at once', async () => {
    const payloads = [randomBytes(8 * 1024 * 1024), randomBytes(3 * 1024 * 1024 + 17), randomBytes(1)];
    const echoed = await Promise.all(payloads.map((p) => roundTrip(tcpPort, p)));
    echoed.forEach((e, i) => expect(e.equals(payloads[i] as Buffer)).toBe(true));
    expect((await envoy.stats('tcp\\.stream\\.downstream_cx_total')).get('tcp.stream.downstream_cx_total')).toBeGreaterThanOrEqual(3);
  });

  it('closes a connection that stays idle longer than idleTimeout', async () => {
    const socket = net.connect(idlePort, '127.0.0.1');
    await new Promise((r) => socket.once('connect', r));
    const started = performance.now();
    const closed = new Promise<number>((r) => socket.once('close', () => r(performance.now() - started)));
    const elapsed = await closed;
    expect(elapsed).toBeGreaterThanOrEqual(250);
    expect(elapsed).toBeLessThan(2000);
    expect((await envoy.stats('tcp\\.idle\\.idle_timeout')).get('tcp.idle.idle_timeout')).toBeGreaterThanOrEqual(1);
  });
});

describe('Redis ambassador', () => {
  it('reads back what it wrote, with keys spread across both servers', async () => {
    for (let i = 0; i < 200; i++) expect(await client.command('SET', `item:${i}`, `value-${i}`)).toBe('OK');
    for (let i = 0; i < 200; i += 17) expect(await client.command('GET', `item:${i}`)).toBe(`value-${i}`);
    const [a, b] = await Promise.all(shards.map((s) => s.keys()));
    expect((a?.length ?? 0) + (b?.length ?? 0)).toBe(200);
    // Consistent hashing over two servers: each holds a fair share (far from all-or-nothing).
    expect(a?.length).toBeGreaterThan(40);
    expect(b?.length).toBeGreaterThan(40);
    expect(a?.filter((k) => b?.includes(k))).toEqual([]);
  });

  it('keeps keys with the same {hash tag} on one server', async () => {
    for (const tag of ['user:1', 'user:2', 'user:3', 'user:4']) {
      for (const field of ['profile', 'cart', 'orders', 'settings']) await client.command('SET', `{${tag}}:${field}`, field);
      const holders = (await Promise.all(shards.map((s) => s.keys()))).map((keys) => keys.filter((k) => k.startsWith(`{${tag}}`)).length);
      expect(holders.sort()).toEqual([0, 4]);
    }
  });

  it('sends keys with a routed prefix to their own upstream', async () => {
    await client.command('SET', 'session:abc', 'token');
    expect(await client.command('GET', 'session:abc')).toBe('token');
    expect(await sessions.keys()).toEqual(['session:abc']);
    for (const s of shards) expect(await s.keys()).not.toContain('session:abc');
  });
});
