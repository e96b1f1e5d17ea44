// Response nonces: unpredictable, so that only a client that read a response can ACK or NACK it.
// Drawn from a pool refilled a few hundred nonces at a time: one call into the CSPRNG per response
// was a measurable share of a thousand Envoys' initial sync.
import { randomFillSync } from 'node:crypto';

const NONCE_BYTES = 12;
const pool = Buffer.alloc(NONCE_BYTES * 256);
let offset = pool.length;

export function newNonce(): string {
  if (offset === pool.length) {
    randomFillSync(pool);
    offset = 0;
  }
  const nonce = pool.toString('base64url', offset, offset + NONCE_BYTES);
  offset += NONCE_BYTES;
  return nonce;
}
