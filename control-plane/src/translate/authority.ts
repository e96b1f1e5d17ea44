// The name an upstream answers to, for the Host of requests Envoy makes or signs on its own behalf
// (an OAuth2 token request, a SigV4 signature).
import { isIpAddress, type UpstreamConfig } from '../model/schema.ts';

/** tls.sni, else the first DNS-named endpoint (else the first endpoint), with ":port" unless it is
 * the scheme's default (443 with TLS, 80 without). */
export function upstreamAuthority(u: UpstreamConfig): string {
  const e = u.endpoints.find((x) => !isIpAddress(x.host)) ?? u.endpoints[0];
  const host = u.tls?.sni ?? (e && isIpAddress(e.host) && e.host.includes(':') ? `[${e.host}]` : e?.host ?? '');
  const port = e?.port ?? (u.tls ? 443 : 80);
  return port === (u.tls ? 443 : 80) ? host : `${host}:${port}`;
}
