// An ambassador's config as the Envoys of one environment see it: the environment's overrides
// merged over the upstreams.
import type { AmbassadorConfig } from './schema.ts';
import type { ConfigProblem } from './check-config.ts';

export function configForEnvironment(config: AmbassadorConfig, environment: string): AmbassadorConfig {
  const overrides = config.environments[environment]?.upstreams ?? {};
  const upstreams = { ...config.upstreams };
  for (const [name, o] of Object.entries(overrides)) {
    const base = upstreams[name];
    if (!base) continue;
    const given = Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
    upstreams[name] = { ...base, ...given };
  }
  return { ...config, upstreams };
}

/** Overrides must name upstreams that exist. */
export function environmentProblems(config: AmbassadorConfig): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const names = Object.keys(config.upstreams);
  for (const [env, e] of Object.entries(config.environments)) {
    for (const name of Object.keys(e.upstreams)) {
      if (!(name in config.upstreams)) {
        problems.push({ path: ['environments', env, 'upstreams', name], message: `no upstream "${name}" to override (defined upstreams: ${names.join(', ') || 'none'}); define it under "upstreams:" first` });
      }
    }
  }
  return problems;
}
