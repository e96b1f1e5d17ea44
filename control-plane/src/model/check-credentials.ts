// Rules of route credentials that span fields: one credential per route, an OAuth2 token upstream
// that exists.
import type { ConfigProblem } from './check-config.ts';
import type { AmbassadorConfig } from './schema.ts';

const KINDS = ['inject', 'oauth2', 'awsSigV4'] as const;

/** `refer` reports a reference to an upstream the config does not define (checkConfig's wording). */
export function credentialProblems(config: AmbassadorConfig, refer: (path: (string | number)[], upstream: string) => void): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  config.listeners.forEach((l, li) => l.protocol === 'http' && l.routes.forEach((r, ri) => {
    const at = ['listeners', li, 'routes', ri];
    const given = KINDS.filter((k) => r[k] !== undefined);
    if (given.length > 1) problems.push({ path: at, message: `expected at most one of ${KINDS.join(', ')} (a route sends one credential), found ${given.join(' and ')}; split the route in two, or drop one` });
    if (r.oauth2) refer([...at, 'oauth2', 'tokenUpstream'], r.oauth2.tokenUpstream);
  }));
  return problems;
}
