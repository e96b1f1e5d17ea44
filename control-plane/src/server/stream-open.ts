// The first request of an ADS stream (either protocol): its node names the group the stream is
// served, which the proven identity must be allowed; then the stream subscribes to the cache.
import type { Subscription } from '../cache/snapshot-cache.ts';
import { groupKey } from '../translate/names.ts';
import { authorizeNode } from './auth/authorize.ts';
import { nodeGroup, type NodeInfo } from './node.ts';
import type { StreamRef } from './observer.ts';
import type { StreamDeps } from './stream-deps.ts';

/** The stream's reference and cache subscription, or undefined once it has been refused. */
export function openStream(streamId: number, protocol: StreamRef['protocol'], deps: StreamDeps, node: NodeInfo | undefined, onChange: () => void): { ref: StreamRef; sub: Subscription } | undefined {
  if (!node) {
    const request = protocol === 'delta' ? 'DeltaDiscoveryRequest' : 'DiscoveryRequest';
    deps.refuse({ ok: false, reason: 'bad_node', message: `the first ${request} of a stream must carry the node` });
    return undefined;
  }
  const g = nodeGroup(node);
  if (!g.ok) {
    deps.refuse({ ok: false, reason: 'bad_node', message: g.message });
    return undefined;
  }
  const verdict = authorizeNode(deps.identity, node, g.group.namespace);
  if (!verdict.ok) {
    deps.refuse(verdict);
    return undefined;
  }
  const who = deps.identity;
  const client = who.method === 'insecure' ? 'unauthenticated (--insecure)' : `${who.namespace}/${who.serviceAccount} (${who.method})`;
  const ref: StreamRef = { streamId, node, group: groupKey(g.group), client, protocol };
  deps.observer.streamOpened(ref);
  return { ref, sub: deps.cache.subscribe(ref.group, node.id, onChange) };
}
