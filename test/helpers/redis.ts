// Real redis-server processes for tests, and a tiny RESP2 client (no npm dependency) that talks to
// them or to anything speaking the protocol, such as Envoy's redis_proxy listener.
//
//   const redis = await startRedis();                 // afterAll(stopAll) also stops it
//   await redis.command('SET', 'k', 'v');             // 'OK'
//   await respCommand(envoyPort, 'GET', 'k');         // 'v', through the ambassador
//   await redis.keys();                               // ['k']
//
// redis-server comes from the Debian package (scripts/setup.sh installs it); each one runs in a
// temp dir on a free loopback port, without persistence, and never as the system service.
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.ts';
import { startProcess } from './processes.ts';
import type { TestProcess } from './processes.ts';

// --- RESP ----------------------------------------------------------------------------------------

/** A RESP error reply ("-ERR ..."). A top-level one rejects the command with it; inside an array
 * (e.g. EXEC) it stays an element. */
export class RespError extends Error {
  override name = 'RespError';
}

/** A decoded RESP2 reply: simple and bulk strings as UTF-8 strings, integers as numbers, null bulk
 * strings and null arrays as null. */
export type RespValue = string | number | null | RespError | RespValue[];

export type RespArg = string | number | Buffer;

/** Encodes one command as a RESP array of bulk strings. */
export function encodeCommand(args: readonly RespArg[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const arg of args) {
    const bytes = Buffer.isBuffer(arg) ? arg : Buffer.from(String(arg), 'utf8');
    parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

/** Thrown while decoding when the bytes cannot be RESP2. */
export class RespProtocolError extends Error {
  override name = 'RespProtocolError';
}

type Decoded = { value: RespValue; end: number } | { need: number };

/**
 * Decodes one reply starting at `pos`. Returns the value and the offset after it, or, when the
 * buffer holds only part of the reply, `need`: the least total buffer length worth trying again at.
 */
export function decodeReply(buf: Buffer, pos = 0): Decoded {
  const lineEnd = buf.indexOf('\r\n', pos);
  if (lineEnd < 0) return { need: buf.length + 1 };
  const type = String.fromCharCode(buf[pos] ?? 0);
  const line = buf.toString('utf8', pos + 1, lineEnd);
  const after = lineEnd + 2;
  const int = (): number => {
    if (!/^-?\d+$/.test(line)) throw new RespProtocolError(`bad length or integer ${JSON.stringify(line)}`);
    return Number(line);
  };
  switch (type) {
    case '+':
      return { value: line, end: after };
    case '-':
      return { value: new RespError(line), end: after };
    case ':':
      return { value: int(), end: after };
    case '$': {
      const n = int();
      if (n < 0) return { value: null, end: after };
      const end = after + n + 2;
      if (buf.length < end) return { need: end };
      if (buf[end - 2] !== 0x0d || buf[end - 1] !== 0x0a) throw new RespProtocolError('bulk string not followed by CRLF');
      return { value: buf.toString('utf8', after, after + n), end };
    }
    case '*': {
      const n = int();
      if (n < 0) return { value: null, end: after };
      const items: RespValue[] = [];
      let at = after;
      for (let i = 0; i < n; i += 1) {
        const item = decodeReply(buf, at);
        if ('need' in item) return item;
        items.push(item.value);
        at = item.end;
      }
      return { value: items, end: at };
    }
    default:
      throw new RespProtocolError(`unexpected reply type byte 0x${(buf[pos] ?? 0).toString(16)} (RESP2 only)`);
  }
}

export interface RespClientOptions {
  host?: string;
  /** Per command, from sending it to its reply. Default 10 s. */
  timeoutMs?: number;
}

export interface RespClient {
  /** Sends one command; resolves with its reply, rejects with a RespError for an error reply.
   * Commands may be issued without awaiting the previous ones (they are pipelined). */
  command(...args: RespArg[]): Promise<RespValue>;
  /** Closes the connection; pending commands are rejected. */
  close(): void;
}

interface Pending {
  resolve(value: RespValue): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

/** Opens one connection (resolves once connected). */
export function connectResp(port: number, options: RespClientOptions = {}): Promise<RespClient> {
  const host = options.host ?? '127.0.0.1';
  const timeoutMs = options.timeoutMs ?? 10_000;
  return new Promise((resolveConnect, rejectConnect) => {
    const socket: Socket = connect({ host, port });
    socket.setNoDelay(true);
    const pending: Pending[] = [];
    let chunks: Buffer[] = [];
    let buffered = 0;
    let need = 1;
    let failure: Error | undefined;

    const failAll = (error: Error): void => {
      failure ??= error;
      for (const p of pending.splice(0)) {
        clearTimeout(p.timer);
        p.reject(error);
      }
    };

    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      buffered += chunk.length;
      if (buffered < need) return;
      let buf = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
      try {
        for (;;) {
          const decoded = decodeReply(buf, 0);
          if ('need' in decoded) {
            need = decoded.need;
            break;
          }
          buf = buf.subarray(decoded.end);
          need = 1;
          const p = pending.shift();
          if (!p) throw new RespProtocolError('a reply arrived with no command waiting for it');
          clearTimeout(p.timer);
          if (decoded.value instanceof RespError) p.reject(decoded.value);
          else p.resolve(decoded.value);
          if (buf.length === 0) break;
        }
      } catch (error) {
        failAll(error instanceof Error ? error : new Error(String(error)));
        socket.destroy();
        return;
      }
      chunks = buf.length > 0 ? [buf] : [];
      buffered = buf.length;
    });
    socket.on('error', (error) => {
      failAll(error);
      rejectConnect(new Error(`RESP connection to ${host}:${port} failed: ${error.message}`));
    });
    socket.on('close', () => failAll(new Error(`RESP connection to ${host}:${port} closed`)));
    socket.once('connect', () => {
      resolveConnect({
        command(...args: RespArg[]): Promise<RespValue> {
          if (failure) return Promise.reject(failure);
          if (args.length === 0) return Promise.reject(new Error('respCommand: no command given'));
          return new Promise((resolve, reject) => {
            const timer = setTimeout(() => {
              const error = new Error(`RESP ${String(args[0])} to ${host}:${port}: no reply within ${timeoutMs} ms`);
              failAll(error);
              socket.destroy();
            }, timeoutMs);
            pending.push({ resolve, reject, timer });
            socket.write(encodeCommand(args));
          });
        },
        close(): void {
          failAll(new Error(`RESP connection to ${host}:${port} closed by the client`));
          socket.destroy();
        },
      });
    });
  });
}

/** One command on a fresh connection, closed afterwards. */
export async function respCommand(port: number, ...args: RespArg[]): Promise<RespValue> {
  const client = await connectResp(port);
  try {
    return await client.command(...args);
  } finally {
    client.close();
  }
}

// --- redis-server --------------------------------------------------------------------------------

export interface RedisServer {
  readonly host: '127.0.0.1';
  readonly port: number;
  readonly process: TestProcess;
  /** One command on a fresh connection (see respCommand). */
  command(...args: RespArg[]): Promise<RespValue>;
  /** Every key in database 0, sorted. */
  keys(): Promise<string[]>;
  /** Deletes every key. */
  flushAll(): Promise<void>;
  /** Stops the server (SIGTERM, no save) and removes its temp dir. */
  stop(): Promise<void>;
}

export interface StartRedisOptions {
  /** Passed as `--name value` arguments after the defaults, e.g. { maxclients: '10' }. */
  config?: Readonly<Record<string, string>>;
  /** How long to wait for PING to answer. Default 10 s. */
  readyTimeoutMs?: number;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function startOnce(port: number, dir: string, options: StartRedisOptions): Promise<TestProcess> {
  const extra = Object.entries(options.config ?? {}).flatMap(([name, value]) => [`--${name}`, value]);
  const proc = startProcess({
    name: `redis-server :${port}`,
    cmd: 'redis-server',
    // No config file: everything on the command line. `--save ''` turns RDB snapshots off.
    args: ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
      '--protected-mode', 'no', '--dir', dir, '--daemonize', 'no', '--loglevel', 'warning', ...extra],
    cwd: dir,
    maxOutputBytes: 64 * 1024,
  });
  const deadline = Date.now() + (options.readyTimeoutMs ?? 10_000);
  for (;;) {
    const exit = proc.exited();
    if (exit) {
      const hint = proc.output().includes('ENOENT') || exit.code === null ? ' (is redis-server installed? run scripts/setup.sh)' : '';
      throw new Error(`redis-server on port ${port} exited (code ${exit.code}, signal ${exit.signal})${hint}; output:\n${proc.output()}`);
    }
    try {
      if ((await respCommand(port, 'PING')) === 'PONG') return proc;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await proc.stop('SIGKILL');
      throw new Error(`redis-server on port ${port} did not answer PING in time; output:\n${proc.output()}`);
    }
    await sleep(15);
  }
}

/** Starts a redis-server on a free port of 127.0.0.1 and waits until it answers PING. */
export async function startRedis(options: StartRedisOptions = {}): Promise<RedisServer> {
  const dir = await mkdtemp(join(tmpdir(), 'xds-redis-'));
  let proc: TestProcess | undefined;
  let port = 0;
  // Another process may take the probed port before redis binds it: try a few ports.
  for (let attempt = 1; !proc; attempt += 1) {
    port = await freePort();
    try {
      proc = await startOnce(port, dir, options);
    } catch (error) {
      const inUse = error instanceof Error && /Address already in use/i.test(error.message);
      if (!inUse || attempt >= 3) {
        await rm(dir, { recursive: true, force: true });
        throw error;
      }
    }
  }
  const started = proc;
  const command = (...args: RespArg[]): Promise<RespValue> => respCommand(port, ...args);
  let stopping: Promise<void> | undefined;
  return {
    host: '127.0.0.1',
    port,
    process: started,
    command,
    async keys(): Promise<string[]> {
      const reply = await command('KEYS', '*');
      if (!Array.isArray(reply) || !reply.every((k): k is string => typeof k === 'string')) {
        throw new Error(`KEYS * answered ${JSON.stringify(reply)}`);
      }
      return reply.sort();
    },
    async flushAll(): Promise<void> {
      await command('FLUSHALL');
    },
    stop(): Promise<void> {
      stopping ??= (async () => {
        await started.stop('SIGTERM', 3000);
        await rm(dir, { recursive: true, force: true });
      })();
      return stopping;
    },
  };
}
