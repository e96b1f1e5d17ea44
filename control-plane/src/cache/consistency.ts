// Nothing is published that references a missing resource: a broken snapshot is a bug, not a config error.
import type { Snapshot } from './snapshot.ts';
import { CLUSTER, ENDPOINT, LISTENER, ROUTE, SECRET } from '../xds/type-urls.ts';

export function consistencyProblems(s: Snapshot): string[] {
  const problems: string[] = [];
  const clusters = s.types[CLUSTER].resources;
  const routes = s.types[ROUTE].resources;
  const endpoints = s.types[ENDPOINT].resources;
  const secrets = s.types[SECRET].resources;
  for (const type of [CLUSTER, LISTENER, ROUTE] as const) {
    for (const r of s.types[type].resources.values()) {
      for (const sec of r.refs.secrets) if (!secrets.has(sec)) problems.push(`${r.name} references missing secret ${sec}`);
      for (const c of r.refs.clusters) if (!clusters.has(c)) problems.push(`${r.name} references missing cluster ${c}`);
      for (const rc of r.refs.routes) if (!routes.has(rc)) problems.push(`${r.name} references missing route configuration ${rc}`);
    }
  }
  for (const c of clusters.values()) {
    if (c.edsName !== undefined && !endpoints.has(c.edsName)) problems.push(`cluster ${c.name} has no endpoint assignment ${c.edsName}`);
  }
  return problems;
}
