// The xDS resource types this control plane serves, in make-before-break push order.
export const CLUSTER = 'type.googleapis.com/envoy.config.cluster.v3.Cluster';
export const ENDPOINT = 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment';
export const LISTENER = 'type.googleapis.com/envoy.config.listener.v3.Listener';
export const ROUTE = 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration';
export const SECRET = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret';

export const PUSH_ORDER = [CLUSTER, ENDPOINT, SECRET, LISTENER, ROUTE] as const;
export type TypeUrl = (typeof PUSH_ORDER)[number];

export const SHORT_NAME: Record<TypeUrl, string> = { [CLUSTER]: 'CDS', [ENDPOINT]: 'EDS', [SECRET]: 'SDS', [LISTENER]: 'LDS', [ROUTE]: 'RDS' };

/** Types whose empty subscription means "everything" (the rest are subscribed by name). */
export const WILDCARD_TYPES: ReadonlySet<string> = new Set([CLUSTER, LISTENER]);

export function isTypeUrl(s: string): s is TypeUrl {
  return (PUSH_ORDER as readonly string[]).includes(s);
}

export function typeName(typeUrl: string): string {
  return typeUrl.slice(typeUrl.lastIndexOf('/') + 1);
}
