// TLS origination towards an upstream: SNI, which CA to trust, which names to accept, a client certificate.
import { z } from 'zod';
import { strict } from './common.ts';
import { secretKey, secretName } from './secret-ref.ts';

const HOSTNAME = /^(?=.{1,253}$)(\*\.)?[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

export const tls = strict({
  /** Server name sent in the TLS handshake; default: the first endpoint's DNS name. */
  sni: z.string().regex(HOSTNAME, { error: 'expected a DNS name such as api.example.com' }).optional(),
  /** CA certificates to trust; default: the system bundle of the Envoy image. */
  ca: z.union([
    strict({ secret: strict({ name: secretName, key: secretKey.default('ca.crt') }) }),
    strict({ file: z.string().startsWith('/', { error: 'expected an absolute path in the Envoy container' }) }),
  ], { error: 'expected {secret: {name: SECRET, key: ca.crt}} or {file: /path/in/the/envoy/container.pem}' }).optional(),
  /** Client certificate and key (mTLS), from a kubernetes.io/tls Secret (tls.crt, tls.key). */
  clientCert: strict({ secret: strict({ name: secretName }) }).optional(),
  /** Names the server certificate must carry (DNS names or IP addresses); default: [sni]. */
  subjectAltNames: z.array(z.string().min(1)).min(1).optional(),
});
