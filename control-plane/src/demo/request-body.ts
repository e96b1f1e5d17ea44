// The demo servers' request bodies: kept up to a cap, since whoever reaches a demo port could stream
// without end; what is over the cap is read and dropped, so the request still completes.
import type { IncomingMessage } from 'node:http';

/** Calls `done` with the body's first `max` bytes (whole chunks) once the request has ended. */
export function onRequestBody(req: IncomingMessage, max: number, done: (body: Buffer) => void): void {
  const chunks: Buffer[] = [];
  let size = 0;
  req.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (size <= max) chunks.push(chunk);
  });
  req.on('end', () => done(Buffer.concat(chunks)));
}
