// client-node (2.0) gives every API call a new undici Agent, so each call opens a TLS connection of
// its own: a handshake and a new SecureContext, several milliseconds of CPU for every Event and
// TokenReview. This KubeConfig keeps one Agent, and so its connections, for as long as the cluster,
// user and TLS material (re-read per call, as client-node does) are the same.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { KubeConfig, type RequestContext } from '@kubernetes/client-node';

type Dispatcher = NonNullable<ReturnType<RequestContext['getDispatcher']>>;

export class PooledKubeConfig extends KubeConfig {
  #pooled: { key: string; dispatcher: Dispatcher } | undefined;

  override async applySecurityAuthentication(context: RequestContext): Promise<void> {
    await super.applySecurityAuthentication(context);
    const fresh = context.getDispatcher();
    if (!fresh) return; // no TLS options: fetch's default dispatcher pools already
    const key = this.#tlsKey();
    if (this.#pooled?.key !== key) {
      void this.#pooled?.dispatcher.close().catch(() => undefined); // lets its calls in flight finish
      this.#pooled = { key, dispatcher: fresh };
    } else {
      void fresh.close().catch(() => undefined); // never used
    }
    context.setDispatcher(this.#pooled.dispatcher);
  }

  /** What client-node makes a call's Agent from: the same key, the same Agent. */
  #tlsKey(): string {
    const cluster = this.getCurrentCluster();
    const user = this.getCurrentUser();
    const file = (path: string | undefined) => (path ? readFileSync(path) : '');
    return createHash('sha256')
      .update(JSON.stringify([cluster?.name, cluster?.server, cluster?.caData, cluster?.skipTLSVerify, cluster?.tlsServerName, cluster?.proxyUrl, user?.name, user?.certData, user?.keyData]))
      .update(file(cluster?.caFile)).update('\0').update(file(user?.certFile)).update('\0').update(file(user?.keyFile))
      .digest('hex');
  }
}
