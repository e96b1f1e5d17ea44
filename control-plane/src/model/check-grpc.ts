// Rules of gRPC routes: a route that transcodes JSON to gRPC, or retries on gRPC status codes, needs
// upstreams that carry gRPC (HTTP/2).
import type { ConfigProblem } from './check-config.ts';
import type { AmbassadorConfig, RouteConfig } from './schema.ts';
import { GRPC_RETRY_CONDITIONS } from './schema/upstream-protocol.ts';

const GRPC_CONDITIONS: ReadonlySet<string> = new Set(GRPC_RETRY_CONDITIONS);

export function grpcProblems(config: AmbassadorConfig): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  config.listeners.forEach((l, li) => {
    if (l.protocol !== 'http') return;
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

export function routeTargets(r: RouteConfig): string[] {
  return r.split ? r.split.map((s) => s.upstream) : r.upstream !== undefined ? [r.upstream] : [];
}
