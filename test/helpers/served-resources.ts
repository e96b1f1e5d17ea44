// What the control plane serves to an ambassador, fetched over a real ADS stream as one of its
// Envoys would (client certificate of the namespace's default ServiceAccount): the resources of each
// type, with their bytes as sent. For checks such as "this value is in no resource but SDS".
import { openAds, type AdsResource } from './ads-client.ts';
import { xdsCredentials } from './scenario.ts';
import { CLUSTER, ENDPOINT, LISTENER, ROUTE, SECRET } from '../../control-plane/src/xds/type-urls.ts';

export interface ServedNames {
  /** RouteConfiguration, ClusterLoadAssignment and Secret names to ask for (clusters and listeners are wildcards). */
  routes: string[];
  endpoints: string[];
  secrets: string[];
}

export async function servedResources(xdsPort: number, namespace: string, ambassador: string, names: ServedNames): Promise<Map<string, AdsResource[]>> {
  const creds = await xdsCredentials();
  const client = await creds.client(namespace, 'default');
  const ads = await openAds(xdsPort, { cluster: ambassador, namespace }, { tls: { caFile: creds.caFile, certFile: client.certFile, keyFile: client.keyFile, serverName: 'localhost' } });
  try {
    const out = new Map<string, AdsResource[]>();
    for (const [typeUrl, wanted] of [[CLUSTER, []], [ENDPOINT, names.endpoints], [SECRET, names.secrets], [LISTENER, []], [ROUTE, names.routes]] as const) {
      if (wanted.length === 0 && typeUrl !== CLUSTER && typeUrl !== LISTENER) continue; // nothing asked, nothing answered
      ads.request({ typeUrl, names: [...wanted] });
      const response = await ads.next(typeUrl, 5000);
      ads.ack(response);
      out.set(typeUrl, response.resources);
    }
    return out;
  } finally {
    ads.close();
  }
}
