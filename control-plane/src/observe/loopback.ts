// Whether an address is the machine's own (127.0.0.0/8, ::1, or IPv4-mapped 127.x).
import { isIP } from 'node:net';

export function isLoopback(address: string | undefined): boolean {
  if (address === undefined) return false;
  const a = address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
  return a === '::1' || (isIP(a) === 4 && a.startsWith('127.'));
}
