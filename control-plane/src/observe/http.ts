// The HTTP port: /healthz (alive), /readyz (first snapshot built), /metrics, /debug/status.
// /debug/ shows which ambassadors exist, their errors and Envoys: it is answered only on a
// loopback address (reach it with kubectl port-forward) unless the operator exposes it.
import { isLoopback } from './loopback.ts';
import type { Metrics } from './metrics.ts';

// Not `import http from 'node:http'`: an ES import of it reads all its exports, and its lazy
// WebSocket / MessageEvent ones load Node's bundled undici (some 13 MB resident, measured).
const http = process.getBuiltinModule('node:http');

export interface HttpEndpoints {
  ready(): boolean;
  status(): unknown;
}

export async function startHttpServer(o: { address: string; port: number; exposeDebug: boolean; metrics: Metrics; endpoints: HttpEndpoints }): Promise<{ port: number; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const reply = (code: number, type: string, body: string) => {
      res.writeHead(code, { 'content-type': type });
      res.end(body);
    };
    if (req.method !== 'GET') return reply(405, 'text/plain', 'only GET\n');
    switch (path) {
      case '/healthz': return reply(200, 'text/plain', 'ok\n');
      case '/readyz': return o.endpoints.ready() ? reply(200, 'text/plain', 'ready\n') : reply(503, 'text/plain', 'not ready: sources not synced yet\n');
      case '/metrics':
        o.metrics.registry.metrics().then((m) => reply(200, o.metrics.registry.contentType, m), (e: Error) => reply(500, 'text/plain', e.message));
        return;
      case '/debug/status':
        if (!o.exposeDebug && !isLoopback(req.socket.localAddress)) return reply(403, 'text/plain', '/debug/ is served on loopback only (use kubectl port-forward, or start serve with --expose-debug)\n');
        return reply(200, 'application/json', `${JSON.stringify(o.endpoints.status(), null, 2)}\n`);
      default: return reply(404, 'text/plain', 'not found; try /healthz, /readyz, /metrics, /debug/status\n');
    }
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.address, () => {
      const a = server.address();
      resolve(typeof a === 'object' && a ? a.port : o.port);
    });
  });
  return {
    port,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
