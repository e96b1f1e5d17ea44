// The ordering rules both ADS protocols (sotw-stream.ts, delta-stream.ts) follow, so that an Envoy
// never has a listener or route pointing at something it does not have yet: CDS, then EDS, then
// SDS, then LDS, then RDS (PUSH_ORDER), and
// - LDS and RDS wait while a CDS, EDS or SDS response awaits its ACK, while the latest CDS or EDS
//   response was NACKed, while clusters a CDS response re-created still wait for their fresh EDS
//   response, and until every EDS cluster the Envoy accepted has been sent its endpoints;
// - RDS also waits while an LDS response awaits its ACK (a new listener subscribes to its routes);
// - a cluster the Envoy's listeners and routes (accepted, or being sent) still use stays until
//   they are replaced.
import type { EncodedResource } from '../cache/encode.ts';
import { CLUSTER, ENDPOINT, LISTENER, ROUTE, SECRET, type TypeUrl } from '../xds/type-urls.ts';

/** What a stream knows of its own progress, per type. */
export interface PushProgress {
  /** A response awaits its ACK/NACK, for a type the Envoy still watches. */
  pending(type: TypeUrl): boolean;
  /** The latest response was NACKed. */
  rejected(type: TypeUrl): boolean;
  /** Clusters a CDS response re-created wait for their fresh EDS response. */
  rewarming(): boolean;
  /** Every EDS cluster the Envoy accepted has its endpoints subscribed and sent. */
  endpointsSettled(): boolean;
}

/** LDS and RDS wait for what they depend on; other types never wait. */
export function waitsForDependencies(type: TypeUrl, p: PushProgress): boolean {
  if (type !== LISTENER && type !== ROUTE) return false;
  if (p.pending(CLUSTER) || p.pending(ENDPOINT) || p.pending(SECRET) || p.rejected(CLUSTER) || p.rejected(ENDPOINT) || p.rewarming() || !p.endpointsSettled()) return true;
  return type === ROUTE && p.pending(LISTENER);
}

/** The clusters these listeners and routes refer to. */
export function clustersReferenced(listenersAndRoutes: Iterable<EncodedResource>): Set<string> {
  const used = new Set<string>();
  for (const r of listenersAndRoutes) for (const c of r.refs.clusters) used.add(c);
  return used;
}
