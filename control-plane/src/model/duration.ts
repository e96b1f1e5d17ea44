// Durations are written the way Kubernetes and Envoy users write them: "250ms", "5s", "1.5s", "2m", "1h".
const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Milliseconds for a duration string, or undefined when it is not one. */
export function parseDurationMs(text: string): number | undefined {
  const m = DURATION.exec(text.trim());
  if (!m || m[1] === undefined || m[2] === undefined) return undefined;
  const ms = Number(m[1]) * (UNIT_MS[m[2]] ?? NaN);
  return Number.isFinite(ms) ? Math.round(ms) : undefined;
}
