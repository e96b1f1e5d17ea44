// Which parts of a config cannot be served for want of a Secret. They are left out (an upstream)
// or answer 503 (a route), so that nothing references an SDS secret that does not exist.
import { secretProblem, secretUses, type SecretUseSite } from '../model/secret-refs.ts';
import type { AmbassadorConfig } from '../model/schema.ts';
import type { SecretObject } from '../sources/types.ts';

export class SecretStatus {
  private readonly problems: { site: SecretUseSite; problem: string }[] = [];
  private readonly config: AmbassadorConfig;

  constructor(namespace: string, config: AmbassadorConfig, secrets: ReadonlyMap<string, SecretObject>) {
    this.config = config;
    for (const site of secretUses(config)) {
      const problem = secretProblem(namespace, site, secrets);
      if (problem) this.problems.push({ site, problem });
    }
  }

  /** Why the upstream cannot be used (its TLS needs a Secret that is missing), or undefined. */
  upstream(name: string): string | undefined {
    return this.problems.find((p) => p.site.path[0] === 'upstreams' && p.site.path[1] === name)?.problem;
  }

  /** Why the route's credential cannot be served (a Secret of its own, or of its OAuth2 token
   * upstream's TLS, is missing), or undefined. */
  credential(listener: number, route: number): string | undefined {
    const own = this.problems.find((p) => p.site.use === 'credential' && p.site.path[1] === listener && p.site.path[3] === route)?.problem;
    const l = this.config.listeners[listener];
    const token = l?.protocol === 'http' ? l.routes[route]?.oauth2?.tokenUpstream : undefined;
    return own ?? (token === undefined ? undefined : this.upstream(token));
  }
}
