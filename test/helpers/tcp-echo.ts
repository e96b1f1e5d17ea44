// A TCP echo server on 127.0.0.1 (a free port) for tcp_proxy tests, and a client that sends a
// payload, half-closes, and collects everything until the far end closes.
//
//   const echo = await startTcpEcho();                      // afterAll(() => echo.close())
//   const payload = randomBytes(8 * 1024 * 1024);
//   expect((await roundTrip(envoyPort, payload)).equals(payload)).toBe(true);
//   echo.connections, echo.bytesReceived                    // what reached the server
//
// The server echoes with back-pressure and, when the client half-closes (FIN), finishes echoing and
// then closes its side, so a round trip through a proxy ends only once every byte came back.
import { connect, createServer } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';

export interface TcpEchoServer {
  readonly host: '127.0.0.1';
  readonly port: number;
  /** Connections accepted since start (or reset()). */
  readonly connections: number;
  /** Connections open right now. */
  readonly openConnections: number;
  /** Bytes received (and so echoed) since start (or reset()). */
  readonly bytesReceived: number;
  /** Bytes written back (handed to the socket) since start (or reset()). */
  readonly bytesSent: number;
  /** Zeroes the counters. */
  reset(): void;
  /** Stops listening and destroys every open connection. */
  close(): Promise<void>;
}

export interface StartTcpEchoOptions {
  /** 0 (default): a free port. */
  port?: number;
}

export async function startTcpEcho(options: StartTcpEchoOptions = {}): Promise<TcpEchoServer> {
  const sockets = new Set<Socket>();
  let connections = 0;
  let bytesReceived = 0;
  let bytesSentClosed = 0;
  let sentBaseline = 0;
  // allowHalfOpen: the client's FIN ends only our readable side; pipe() ends the writable side once
  // everything read has been written back.
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    connections += 1;
    sockets.add(socket);
    socket.on('data', (chunk: Buffer) => {
      bytesReceived += chunk.length;
    });
    socket.on('error', () => {
      // a reset by the peer; 'close' follows
    });
    socket.on('close', () => {
      bytesSentClosed += socket.bytesWritten;
      sockets.delete(socket);
    });
    socket.pipe(socket);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: options.port ?? 0 }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  let closing: Promise<void> | undefined;
  return {
    host: '127.0.0.1',
    port,
    get connections() {
      return connections;
    },
    get openConnections() {
      return sockets.size;
    },
    get bytesReceived() {
      return bytesReceived;
    },
    get bytesSent() {
      let open = 0;
      for (const socket of sockets) open += socket.bytesWritten;
      return bytesSentClosed + open - sentBaseline;
    },
    reset(): void {
      connections = 0;
      bytesReceived = 0;
      bytesSentClosed = 0;
      sentBaseline = 0;
      for (const socket of sockets) sentBaseline += socket.bytesWritten;
    },
    close(): Promise<void> {
      closing ??= new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        for (const socket of sockets) socket.destroy();
      });
      return closing;
    },
  };
}

export interface RoundTripOptions {
  host?: string;
  /** The whole exchange, from connecting to the far end's close. Default 30 s. */
  timeoutMs?: number;
}

/**
 * Connects to `port`, writes `payload`, half-closes (FIN) and resolves with every byte received
 * until the far end closes its side. Rejects on a connection error, a reset, or the timeout.
 */
export function roundTrip(port: number, payload: Buffer, options: RoundTripOptions = {}): Promise<Buffer> {
  const host = options.host ?? '127.0.0.1';
  const timeoutMs = options.timeoutMs ?? 30_000;
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let settled = false;
    const socket = connect({ host, port, allowHalfOpen: true });
    const finish = (error?: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (error) reject(error);
      else resolve(Buffer.concat(chunks));
    };
    const timer = setTimeout(() => {
      const received = chunks.reduce((n, c) => n + c.length, 0);
      finish(new Error(`roundTrip ${host}:${port}: not finished within ${timeoutMs} ms (sent ${payload.length} bytes, received ${received})`));
    }, timeoutMs);
    socket.on('connect', () => {
      socket.end(payload);
    });
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('end', () => finish());
    socket.on('error', (error) => finish(new Error(`roundTrip ${host}:${port}: ${error.message}`)));
    socket.on('close', () => finish(new Error(`roundTrip ${host}:${port}: closed before the far end finished sending`)));
  });
}
