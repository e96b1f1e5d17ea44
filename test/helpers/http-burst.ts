// Requests that reach a server together: one GET per connection, every connection opened first,
// then every request written in the same tick. For rate limits, whose buckets refill while requests
// trickle in.
import { connect, type Socket } from 'node:net';

export interface RawReply { status: number; headers: Record<string, string>; body: string }

/** GETs of `paths`, one per connection: every connection is opened first, then every request is
 * written in the same tick, so that they reach Envoy together. */
export async function burst(port: number, paths: string[]): Promise<RawReply[]> {
  const sockets = await Promise.all(paths.map(() => new Promise<Socket>((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => resolve(s));
    s.once('error', reject);
  })));
  const replies = sockets.map((s) => new Promise<RawReply>((resolve, reject) => {
    let data = Buffer.alloc(0);
    s.on('data', (chunk: Buffer) => {
      data = Buffer.concat([data, chunk]);
      const end = data.indexOf('\r\n\r\n');
      if (end === -1) return;
      const [statusLine = '', ...lines] = data.subarray(0, end).toString().split('\r\n');
      const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
      const body = data.subarray(end + 4);
      if (body.length < Number(headers['content-length'])) return;
      s.destroy();
      resolve({ status: Number(statusLine.split(' ')[1]), headers, body: body.toString() });
    });
    s.once('error', reject);
  }));
  sockets.forEach((s, i) => s.write(`GET ${paths[i]} HTTP/1.1\r\nhost: localhost\r\n\r\n`));
  return Promise.all(replies);
}
