// Rules of the per-route HTTP features that span fields: unique route names, and what Envoy's cache
// filter cannot combine with.
import type { ConfigProblem } from './check-config.ts';
import { routeName } from './route-name.ts';
import type { AmbassadorConfig } from './schema.ts';

export function checkHttpFeatures(config: AmbassadorConfig): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  config.listeners.forEach((l, li) => {
    if (l.protocol !== 'http') return;
    const names = new Map<string, number>();
    l.routes.forEach((r, ri) => {
      const at = ['listeners', li, 'routes', ri];
      const name = routeName(r, ri);
      const same = names.get(name);
      if (same !== undefined) {
        const other = l.routes[same]?.name === undefined ? `routes[${same}], whose default name is "${name}"` : `routes[${same}]`;
        problems.push({ path: r.name === undefined ? at : [...at, 'name'], message: `duplicate route name "${name}" (also ${other}); give each route of the listener its own name` });
      }
      names.set(name, ri);
      // Envoy's cache filter sends the requests it may cache (GET, HEAD) to the upstream by itself,
      // past the router: the route's timeout and retries would silently not apply to them.
      if (r.cache) {
        for (const field of ['timeout', 'retries'] as const) {
          if (r[field] !== undefined) problems.push({ path: [...at, field], message: `"${field}" cannot be combined with "cache: true": Envoy's cache filter sends cacheable requests (GET, HEAD) to the upstream itself, without the route's timeout and retries; remove "${field}", or the cache` });
        }
        // ...and past the transcoder (which comes after it): a JSON GET would reach the gRPC service as is.
        if (r.transcode !== undefined) problems.push({ path: [...at, 'transcode'], message: '"transcode" cannot be combined with "cache: true": Envoy\'s cache filter would send JSON GETs to the gRPC upstream itself, untranscoded; remove one of the two' });
      }
    });
  });
  return problems;
}
