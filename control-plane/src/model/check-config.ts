// Rules that span fields: references between routes and upstreams, uniqueness, exactly-one-of choices.
import { grpcProblems } from './check-grpc.ts';
import { credentialProblems } from './check-credentials.ts';
import { checkHttpFeatures } from './check-http-features.ts';
import { isIpAddress, type AmbassadorConfig } from './schema.ts';

export interface ConfigProblem {
  path: (string | number)[];
  message: string;
}

export function checkConfig(config: AmbassadorConfig): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const upstreamNames = Object.keys(config.upstreams);
  const known = upstreamNames.length ? `defined upstreams: ${upstreamNames.join(', ')}` : 'no upstreams are defined';
  const refer = (path: (string | number)[], name: string) => {
    if (!(name in config.upstreams)) problems.push({ path, message: `unknown upstream "${name}" (${known}); add it under "upstreams:" or fix the name` });
  };
  const names = new Map<string, number>();
  const ports = new Map<string, number>();

  config.listeners.forEach((l, li) => {
    const at: (string | number)[] = ['listeners', li];
    const sameName = names.get(l.name);
    if (sameName !== undefined) problems.push({ path: [...at, 'name'], message: `duplicate listener name "${l.name}" (also listeners[${sameName}]); give each listener its own name` });
    names.set(l.name, li);
    const bind = `${l.address}:${l.port}`;
    const samePort = ports.get(bind);
    if (samePort !== undefined) problems.push({ path: [...at, 'port'], message: `port ${l.port} on ${l.address} is already used by listeners[${samePort}]; choose another port` });
    ports.set(bind, li);

    if (l.protocol === 'tcp') refer([...at, 'upstream'], l.upstream);
    if (l.protocol === 'redis') {
      refer([...at, 'upstream'], l.upstream);
      l.routes?.forEach((r, ri) => refer([...at, 'routes', ri, 'upstream'], r.upstream));
      if (l.opTimeout === 0) problems.push({ path: [...at, 'opTimeout'], message: 'expected an operation timeout greater than 0 (such as "1s")' });
    }
    if (l.protocol !== 'http') return;
    l.routes.forEach((r, ri) => {
      const rat = [...at, 'routes', ri];
      const m = r.match;
      if ((m.prefix === undefined) === (m.path === undefined)) {
        problems.push({ path: [...rat, 'match'], message: `expected exactly one of "prefix" (e.g. prefix: /) or "path" (an exact path), found ${m.prefix === undefined ? 'neither' : 'both'}` });
      }
      if ((r.upstream === undefined) === (r.split === undefined)) {
        problems.push({ path: rat, message: `expected exactly one of "upstream: NAME" or "split: [{upstream, weight}, ...]", found ${r.upstream === undefined ? 'neither' : 'both'}` });
      }
      if (r.upstream !== undefined) refer([...rat, 'upstream'], r.upstream);
      if (r.split) {
        r.split.forEach((s, si) => refer([...rat, 'split', si, 'upstream'], s.upstream));
        if (r.split.reduce((sum, s) => sum + s.weight, 0) === 0) problems.push({ path: [...rat, 'split'], message: `expected the split weights to add up to more than 0, found ${r.split.length === 1 ? 'a single weight of 0' : `${r.split.length} weights of 0`}` });
        const seen = new Set<string>();
        r.split.forEach((s, si) => {
          if (seen.has(s.upstream)) problems.push({ path: [...rat, 'split', si, 'upstream'], message: `upstream "${s.upstream}" appears twice in the split; merge the two weights` });
          seen.add(s.upstream);
        });
      }
      const b = r.retries?.backoff;
      if (b?.max !== undefined && b.max < b.base) problems.push({ path: [...rat, 'retries', 'backoff', 'max'], message: `expected max to be at least base (${b.base}ms), found ${b.max}ms` });
      if (b !== undefined && b.base === 0) problems.push({ path: [...rat, 'retries', 'backoff', 'base'], message: `expected a base back-off greater than 0, found ${b.base}ms` });
    });
  });
  for (const [name, u] of Object.entries(config.upstreams)) {
    const hc = u.healthCheck;
    if (hc && (hc.interval === 0 || hc.timeout === 0)) problems.push({ path: ['upstreams', name, 'healthCheck', hc.interval === 0 ? 'interval' : 'timeout'], message: 'expected a duration greater than 0' });
    const od = u.outlierDetection;
    if (od && (od.interval === 0 || od.baseEjectionTime === 0)) problems.push({ path: ['upstreams', name, 'outlierDetection', od.interval === 0 ? 'interval' : 'baseEjectionTime'], message: 'expected a duration greater than 0' });
    if (u.tls && u.tls.sni === undefined && u.tls.subjectAltNames === undefined && u.endpoints.every((e) => isIpAddress(e.host))) {
      problems.push({ path: ['upstreams', name, 'tls'], message: 'expected "sni" or "subjectAltNames": the endpoints are IP addresses, so there is no name to verify the server certificate against' });
    }
  }
  problems.push(...grpcProblems(config));
  problems.push(...credentialProblems(config, refer));
  problems.push(...checkHttpFeatures(config));
  return problems;
}
