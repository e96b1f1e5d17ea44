import type { JsonObject } from './types.ts';

/** google.protobuf.Duration in protobuf object form. */
export function duration(ms: number): JsonObject {
  const seconds = Math.floor(ms / 1000);
  const nanos = (ms % 1000) * 1_000_000;
  const d: JsonObject = {};
  if (seconds !== 0) d.seconds = seconds;
  if (nanos !== 0) d.nanos = nanos;
  return d;
}
