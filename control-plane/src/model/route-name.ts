import type { RouteConfig } from './schema.ts';

/** A route's name in access logs, traces and stats: its `name`, or "route-<index>" in its listener. */
export function routeName(r: RouteConfig, index: number): string {
  return r.name ?? `route-${index}`;
}
