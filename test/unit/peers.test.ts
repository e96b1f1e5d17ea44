// Proves the real peers the TLS / TCP / Redis ambassador tests rely on, with no Envoy involved:
// the openssl-made PKI, the HTTPS upstream (SNI, ALPN, mutual TLS), redis-server with the RESP
// client, and the TCP echo server with byte-exact round trips.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { request } from 'node:https';
import type { RequestOptions } from 'node:https';
import { connect } from 'node:tls';
import type { ConnectionOptions } from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { startTlsUpstream } from '../../control-plane/src/demo/tls-upstream.ts';
import type { TlsUpstream } from '../../control-plane/src/demo/tls-upstream.ts';
import { makePki } from '../../control-plane/src/demo/pki.ts';
import type { CertFiles, Pki } from '../../control-plane/src/demo/pki.ts';
import { stopAll } from '../helpers/processes.ts';
import { connectResp, decodeReply, encodeCommand, RespError, respCommand, startRedis } from '../helpers/redis.ts';
import type { RedisServer } from '../helpers/redis.ts';
import { roundTrip, startTcpEcho } from '../helpers/tcp-echo.ts';
import type { TcpEchoServer } from '../helpers/tcp-echo.ts';

function opensslVerify(caPath: string, certPath: string, purpose: string): Promise<{ ok: boolean; output: string }> {
  return new Promise((resolve) => {
    execFile('openssl', ['verify', '-purpose', purpose, '-CAfile', caPath, certPath], (error, stdout, stderr) => {
      resolve({ ok: !error, output: `${stdout}${stderr}` });
    });
  });
}

interface HttpsAnswer {
  status: number;
  body: { upstream: string; path: string; tls: { servername: string | null; clientCn: string | null } };
}

function httpsGet(options: RequestOptions & Pick<ConnectionOptions, 'ALPNProtocols'>): Promise<HttpsAnswer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', method: 'GET', agent: false, ...options }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        try {
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as HttpsAnswer['body'] });
        } catch (error) {
          reject(error instanceof Error ? error : new Error(String(error)));
        }
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('PKI made with openssl', () => {
  let pki: Pki;
  let server: CertFiles;
  let client: CertFiles;
  let upstream: TlsUpstream | undefined;
  let mtlsUpstream: TlsUpstream | undefined;

  beforeAll(async () => {
    pki = await makePki();
    [server, client] = await Promise.all([pki.server(['api.test', 'localhost', '127.0.0.1']), pki.client('orders-ambassador')]);
  });
  afterAll(async () => {
    await upstream?.close();
    await mtlsUpstream?.close();
    await pki?.cleanup();
  });

  it('makes certificates that openssl verify accepts for their purpose, and rejects against the other CA', async () => {
    expect(pki.ca.cert).toMatch(/^-----BEGIN CERTIFICATE-----/);
    expect(server.key).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(await opensslVerify(pki.ca.certPath, server.certPath, 'sslserver')).toMatchObject({ ok: true });
    expect(await opensslVerify(pki.ca.certPath, client.certPath, 'sslclient')).toMatchObject({ ok: true });
    // The extended key usage is what it should be: a client certificate is no server certificate.
    expect((await opensslVerify(pki.ca.certPath, client.certPath, 'sslserver')).ok).toBe(false);
    const wrong = await opensslVerify(pki.otherCa.certPath, server.certPath, 'sslserver');
    expect(wrong.ok).toBe(false);
    expect(wrong.output).toMatch(/unable to get local issuer certificate/);
  });

  it('serves HTTPS that a client trusting the CA verifies, recording the SNI and ALPN', async () => {
    upstream = await startTlsUpstream({ name: 'tls-v1', cert: server.cert, key: server.key });
    const answer = await httpsGet({
      port: upstream.port,
      path: '/movies?x=1',
      servername: 'api.test',
      ca: pki.ca.cert,
      ALPNProtocols: ['h2', 'http/1.1'], // as Envoy's auto_config would offer: the server picks HTTP/1.1
    });
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ upstream: 'tls-v1', path: '/movies?x=1', tls: { servername: 'api.test', clientCn: null } });
    expect(upstream.requests).toHaveLength(1);
    expect(upstream.requests[0]?.tls).toEqual({
      servername: 'api.test',
      alpn: 'http/1.1',
      clientCert: false,
      clientCn: null,
      version: 'TLSv1.3',
    });

    // No SNI at all (connecting by IP, verified by the IP SAN) and no ALPN offered: both recorded as null.
    const raw = connect({ host: '127.0.0.1', port: upstream.port, ca: pki.ca.cert });
    await new Promise<void>((resolve, reject) => {
      raw.once('secureConnect', resolve);
      raw.once('error', reject);
    });
    expect(raw.authorized).toBe(true);
    raw.end('GET /raw HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n');
    const text = await new Promise<string>((resolve, reject) => {
      let data = '';
      raw.on('data', (chunk: Buffer) => (data += chunk.toString('utf8')));
      raw.on('end', () => resolve(data));
      raw.on('error', reject);
    });
    expect(text).toMatch(/^HTTP\/1\.1 200/);
    expect(upstream.requests[1]?.tls).toMatchObject({ servername: null, alpn: null, clientCert: false });
  });

  it('fails verification for a client that trusts only the other CA', async () => {
    upstream ??= await startTlsUpstream({ name: 'tls-v1', cert: server.cert, key: server.key });
    const before = upstream.requests.length;
    await expect(httpsGet({ port: upstream.port, path: '/', servername: 'api.test', ca: pki.otherCa.cert })).rejects.toMatchObject({
      code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
    });
    expect(upstream.requests.length).toBe(before);
  });

  it('with a CA set, refuses a client without a certificate and accepts one with it, recording its CN', async () => {
    mtlsUpstream = await startTlsUpstream({ name: 'mtls', cert: server.cert, key: server.key, ca: pki.ca.cert });
    const base = { port: mtlsUpstream.port, path: '/secure', servername: 'api.test', ca: pki.ca.cert };

    // TLS 1.3: the server refuses with a "certificate required" alert.
    await expect(httpsGet(base)).rejects.toMatchObject({ code: 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED' });
    // A certificate from another CA completes the handshake, then Node cuts the connection.
    const wrongClient = await pki.client('intruder', { issuer: 'otherCa' });
    await expect(httpsGet({ ...base, cert: wrongClient.cert, key: wrongClient.key })).rejects.toMatchObject({ code: 'ECONNRESET' });
    expect(mtlsUpstream.requests).toHaveLength(0);
    // The server records a failed handshake when it sees it, not necessarily before the client does.
    const upstreamSeen = mtlsUpstream;
    await vi.waitFor(() => expect(upstreamSeen.tlsErrors).toHaveLength(2), { timeout: 2000 });
    expect(mtlsUpstream.tlsErrors).toEqual([
      expect.stringMatching(/peer did not return a certificate/),
      'client certificate rejected: UNABLE_TO_VERIFY_LEAF_SIGNATURE',
    ]);
    expect(mtlsUpstream.handshakes).toBe(0);

    const answer = await httpsGet({ ...base, cert: client.cert, key: client.key });
    expect(answer.status).toBe(200);
    expect(answer.body.tls).toMatchObject({ servername: 'api.test', clientCn: 'orders-ambassador' });
    expect(mtlsUpstream.requests).toHaveLength(1);
    expect(mtlsUpstream.requests[0]?.tls).toMatchObject({ clientCert: true, clientCn: 'orders-ambassador', servername: 'api.test' });
    expect(mtlsUpstream.handshakes).toBe(1);
  });
});

describe('RESP codec', () => {
  it('encodes commands as arrays of bulk strings and decodes every RESP2 reply type', () => {
    expect(encodeCommand(['SET', 'k', 'vé', 5]).toString('utf8')).toBe('*4\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\nvé\r\n$1\r\n5\r\n');
    const reply = Buffer.from('*6\r\n+OK\r\n:-42\r\n$3\r\né!\r\n$-1\r\n*-1\r\n-ERR nope\r\n');
    const decoded = decodeReply(reply);
    expect('value' in decoded && decoded.end).toBe(reply.length);
    const value = 'value' in decoded ? decoded.value : undefined;
    expect(value).toEqual(['OK', -42, 'é!', null, null, new RespError('ERR nope')]);
    // Partial input asks for more, at least up to the end of the bulk string it is in.
    expect(decodeReply(Buffer.from('$10\r\nabc'))).toEqual({ need: 17 });
    expect(decodeReply(Buffer.from('*2\r\n:1\r\n'))).toHaveProperty('need');
  });
});

describe('redis-server', () => {
  let shards: RedisServer[] = [];
  afterAll(async () => {
    await Promise.all(shards.map((s) => s.stop()));
    await stopAll();
  });

  it('starts two servers on free ports; SET/GET/KEYS work through the RESP client', async () => {
    shards = await Promise.all([startRedis(), startRedis()]);
    const [a, b] = shards as [RedisServer, RedisServer];
    expect(a.port).not.toBe(b.port);

    expect(await a.command('SET', 'movie:1', 'Alien')).toBe('OK');
    expect(await a.command('SET', 'movie:2', 'Heat')).toBe('OK');
    expect(await b.command('SET', 'user:1', 'ripley')).toBe('OK');
    expect(await respCommand(a.port, 'GET', 'movie:1')).toBe('Alien');
    expect(await respCommand(a.port, 'GET', 'user:1')).toBeNull();
    expect(await b.command('INCRBY', 'counter', 41)).toBe(41);
    expect(await a.keys()).toEqual(['movie:1', 'movie:2']);
    expect(await b.keys()).toEqual(['counter', 'user:1']);
    await expect(a.command('NOSUCHCOMMAND')).rejects.toBeInstanceOf(RespError);

    // One connection, pipelined commands, a 1 MiB value split over many reads.
    const big = 'x'.repeat(1024 * 1024);
    const client = await connectResp(b.port);
    try {
      const replies = await Promise.all([client.command('SET', 'big', big), client.command('STRLEN', 'big'), client.command('GET', 'big')]);
      expect(replies.slice(0, 2)).toEqual(['OK', big.length]);
      expect(replies[2] === big).toBe(true);
    } finally {
      client.close();
    }
    await b.flushAll();
    expect(await b.keys()).toEqual([]);
  });
});

describe('TCP echo', () => {
  let echo: TcpEchoServer | undefined;
  afterEach(async () => {
    await echo?.close();
    echo = undefined;
  });

  it('round-trips 8 MiB of random bytes exactly', async () => {
    echo = await startTcpEcho();
    const payload = randomBytes(8 * 1024 * 1024);
    const back = await roundTrip(echo.port, payload);
    expect(back.length).toBe(payload.length);
    expect(back.equals(payload)).toBe(true);
    expect(echo.connections).toBe(1);
    expect(echo.bytesReceived).toBe(payload.length);
    expect(echo.bytesSent).toBe(payload.length);

    expect((await roundTrip(echo.port, Buffer.alloc(0))).length).toBe(0);
    expect(echo.connections).toBe(2);
  });

  it('rejects when nothing listens', async () => {
    echo = await startTcpEcho();
    const port = echo.port;
    await echo.close();
    await expect(roundTrip(port, Buffer.from('x'))).rejects.toThrow(/ECONNREFUSED/);
  });
});
