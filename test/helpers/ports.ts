// Free TCP ports on the loopback interface, chosen at run time.
// There is an unavoidable window between closing the probe socket and the real server binding the
// port; the kernel hands out ephemeral ports in rotation, so a reuse inside that window is rare.
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';

/** Binds 127.0.0.1:0, reads the port the kernel chose, closes the socket and returns the port. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0, exclusive: true }, () => {
      const port = (server.address() as AddressInfo).port;
      server.close((error) => (error ? reject(error) : resolve(port)));
    });
  });
}

/** `n` distinct free ports (all probe sockets are held open together, so they never coincide). */
export async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: n }, () => {
      return new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
        const server = createServer();
        server.unref();
        server.once('error', reject);
        server.listen({ host: '127.0.0.1', port: 0, exclusive: true }, () => resolve(server));
      });
    }),
  );
  const ports = servers.map((server) => (server.address() as AddressInfo).port);
  await Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
  return ports;
}
