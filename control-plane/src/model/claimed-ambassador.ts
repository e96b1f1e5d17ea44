// The ambassador an invalid config claims, from its top-level `ambassador: NAME` line, so that the
// group it would configure is held (its Envoys keep what they have) rather than emptied. A line
// scan, not a YAML parser: the text is invalid and may be hostile; this is linear and cannot throw.
const CLAIM = /^ambassador:[ \t]*(["']?)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)\1[ \t]*(?:#[^\r\n]*)?\r?$/gm;

/** The name when the text has exactly one such line naming one ambassador; else undefined. */
export function claimedAmbassador(text: string): string | undefined {
  const names = new Set([...text.matchAll(CLAIM)].map((m) => m[2]));
  return names.size === 1 ? [...names][0] : undefined;
}
