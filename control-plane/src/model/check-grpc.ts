// Rules of gRPC routes: a route that transcodes JSON to gRPC, or retries on gRPC status codes, needs
// upstreams that carry gRPC (HTTP/2); an upstream's HTTP protocol means nothing to a TCP or Redis
// listener.
import type { ConfigProblem } from './check-config.ts';
import type { AmbassadorConfig, RouteConfig } from './schema.ts';
import { GRPC_RETRY_CONDITIONS } from './schema/upstream-protocol.ts';

const GRPC_CONDITIONS: ReadonlySet<string> = new Set(GRPC_RETRY_CONDITIONS);

export function grpcProblems(config: AmbassadorConfig): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const reported = new Set<string>();
  config.listeners.forEach((l, li) => {
    if (l.protocol !== 'http') {
      const used = l.protocol === 'tcp' ? [l.upstream] : [l.upstream, ...(l.routes ?? []).map((r) => r.upstream)];
      for (const u of used) {
        const p = config.upstreams[u]?.protocol;
        if (p === undefined || p === 'http1' || reported.has(u)) continue;
        reported.add(u);
        problems.push({ path: ['upstreams', u, 'protocol'], message: `upstream "${u}" is used by the ${l.protocol} listener "${l.name}", which proxies ${l.protocol === 'tcp' ? 'bytes' : 'Redis commands'}, not HTTP: protocol ${p} applies to HTTP routes only — remove it` });
      }
      return;
    }
    l.routes.forEach((r, ri) => {
      const at = ['listeners', li, 'routes', ri];
      const targets = routeTargets(r).filter((t) => t in config.upstreams); // unknown ones are reported elsewhere
      const protocolOf = (t: string) => config.upstreams[t]?.protocol ?? 'http1';
      if (r.transcode) {
        // auto would send the JSON call on as the HTTP/1.1 it came in.
        const t = targets.find((u) => protocolOf(u) !== 'http2');
        if (t !== undefined) problems.push({ path: [...at, 'transcode'], message: `transcoding sends gRPC, which needs HTTP/2: upstream "${t}" has protocol ${protocolOf(t)} — set upstreams.${t}.protocol: http2` });
      }
      r.retries?.on.forEach((c, ci) => {
        if (!GRPC_CONDITIONS.has(c)) return;
        const t = targets.find((u) => protocolOf(u) === 'http1');
        if (t !== undefined) problems.push({ path: [...at, 'retries', 'on', ci], message: `"${c}" is a gRPC status, and gRPC needs HTTP/2: upstream "${t}" has protocol http1 — set upstreams.${t}.protocol: http2 (or auto)` });
      });
    });
  });
  return problems;
}

function routeTargets(r: RouteConfig): string[] {
  return r.split ? r.split.map((s) => s.upstream) : r.upstream !== undefined ? [r.upstream] : [];
}
