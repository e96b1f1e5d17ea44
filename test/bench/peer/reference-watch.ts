// The API server's own part of an edit through it: a plain watch of one ConfigMap, opened by the
// bench, timing when each change arrives. A server's "watch event → first push" is its edit → first
// push less this (both watches are served by the same API server at the same moment).
import https from 'node:https';
import type { KubeApiServer } from '../../kube/apiserver.ts';

export class ReferenceWatch {
  readonly #req: ReturnType<typeof https.request>;
  #waiting: ((at: number) => void)[] = [];

  private constructor(req: ReturnType<typeof https.request>) {
    this.#req = req;
  }

  /** Watches ConfigMap `namespace/name` from its current version on. */
  static open(api: KubeApiServer, namespace: string, name: string): Promise<ReferenceWatch> {
    return new Promise((resolve, reject) => {
      const path = `/api/v1/namespaces/${namespace}/configmaps?watch=true&fieldSelector=${encodeURIComponent(`metadata.name=${name}`)}`;
      const req = https.request(`${api.url}${path}`, { ca: api.caPem, headers: { authorization: `Bearer ${api.adminToken}` } });
      const watch = new ReferenceWatch(req);
      req.on('response', (res) => {
        if (res.statusCode !== 200) return reject(new Error(`watch ${path}: HTTP ${res.statusCode}`));
        let buffered = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          const at = performance.now();
          buffered += chunk;
          for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
            const line = buffered.slice(0, nl);
            buffered = buffered.slice(nl + 1);
            if ((JSON.parse(line) as { type?: string }).type === 'MODIFIED') watch.#waiting.shift()?.(at);
          }
        });
        resolve(watch);
      });
      req.on('error', reject);
      req.end();
    });
  }

  /** When the next change arrives (performance.now()). */
  next(): Promise<number> {
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  close(): void {
    this.#req.destroy();
  }
}
