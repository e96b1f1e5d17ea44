// The serve command's security flags → the xDS port's certificate and how Envoys authenticate.
import { isIP } from 'node:net';
import type { Logger } from '../observe/log.ts';
import type { AuthMode } from '../server/auth/authenticator.ts';
import type { BearerTokenVerifier } from '../server/auth/identity.ts';
import { CertificateFiles } from '../tls/certificate-files.ts';
import { UsageError } from './args.ts';

/** The audience of the projected ServiceAccount token the Envoy Pods mount (--kubernetes without
 * --client-ca), unless --token-audience says otherwise. */
export const DEFAULT_TOKEN_AUDIENCE = 'xds-ambassador';

export interface SecurityFlags {
  insecure: boolean;
  tlsCert?: string;
  tlsKey?: string;
  clientCa?: string;
  trustDomain: string;
  /** Set when Envoys present ServiceAccount tokens (the Kubernetes source). */
  tokenVerifier?: () => BearerTokenVerifier;
}

export interface XdsSecurity {
  tls?: CertificateFiles;
  auth: AuthMode;
}

export async function xdsSecurity(f: SecurityFlags, log: Logger): Promise<XdsSecurity> {
  if (f.insecure) {
    if (f.tlsCert !== undefined || f.tlsKey !== undefined || f.clientCa !== undefined) {
      throw new UsageError('--insecure serves plaintext without authentication: drop it, or drop --tls-cert/--tls-key/--client-ca');
    }
    log.warn('--insecure: the xDS port is plaintext and unauthenticated — any client that reaches it can read every config and Secret it serves and NACK any group. Use only on a trusted loopback or in tests.');
    return { auth: { kind: 'insecure' } };
  }
  if (f.tlsCert === undefined || f.tlsKey === undefined) {
    throw new UsageError('the xDS port needs a TLS certificate: pass --tls-cert FILE and --tls-key FILE (e.g. tls.crt and tls.key of a kubernetes.io/tls Secret), or --insecure for a plaintext port without authentication');
  }
  let auth: AuthMode;
  if (f.clientCa !== undefined) auth = { kind: 'certificate', trustDomain: f.trustDomain };
  else if (f.tokenVerifier !== undefined) auth = { kind: 'token', verifier: f.tokenVerifier() };
  else throw new UsageError('Envoys must prove who they are: pass --client-ca FILE (client certificates with a spiffe://TRUST_DOMAIN/ns/NAMESPACE/sa/NAME URI SAN), or use --kubernetes (ServiceAccount tokens)');
  const tls = await CertificateFiles.open({ certFile: f.tlsCert, keyFile: f.tlsKey, ...(f.clientCa ? { caFile: f.clientCa } : {}) }, log)
    .catch((e: unknown) => { throw new UsageError((e as Error).message); });
  return { tls, auth };
}

export function bindAddressFlag(name: string, value: string): string {
  if (isIP(value) === 0) throw new UsageError(`--${name}: expected an IP address such as 127.0.0.1, 0.0.0.0 or ::, found ${JSON.stringify(value)}`);
  return value;
}
