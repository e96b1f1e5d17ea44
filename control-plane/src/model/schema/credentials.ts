// Credentials a route's requests carry beyond a static header from a Secret (inject, route.ts): an
// OAuth2 access token Envoy fetches and refreshes itself (client-credentials grant), or an AWS SigV4
// signature Envoy computes per request.
import { z } from 'zod';
import { dnsLabel, strict } from './common.ts';
import { secretReference } from './secret-ref.ts';

// RFC 6749 (appendix A): a client id is printable ASCII (VSCHAR); a scope token is printable ASCII
// without space, '"' and '\' (NQCHAR). Envoy percent-encodes both in the token request.
const CLIENT_ID = /^[\x20-\x7E]+$/;
const SCOPE = /^[\x21\x23-\x5B\x5D-\x7E]+$/;
// RFC 3986 path and query characters (pchar, "/" and "?"), so the request line Envoy writes is valid.
const TOKEN_PATH = /^\/[A-Za-z0-9\-._~%!$&'()*+,;=:@/?]*$/;

/** The client-credentials grant: Envoy gets a token from `tokenUpstream` and sends it as a bearer token. */
export const oauth2 = strict({
  /** The upstream (under `upstreams:`) that is the authorization server; its TLS settings apply. */
  tokenUpstream: dnsLabel('upstream name'),
  /** Path (and query) of the token endpoint on that upstream. */
  tokenPath: z.string().max(1024).regex(TOKEN_PATH, { error: 'expected the token endpoint\'s path, starting with "/" (such as /oauth2/token), with the characters a URL path and query allow (percent-encode others)' }),
  clientId: z.string().max(1024).regex(CLIENT_ID, { error: 'expected a client id: printable ASCII characters' }),
  /** The Secret key holding the client secret; it reaches Envoy only over SDS. */
  clientSecret: secretReference,
  scopes: z.array(z.string().max(1024).regex(SCOPE, { error: 'expected a scope: printable ASCII characters without spaces, \'"\' or \'\\\'' })).min(1).optional(),
});

// us-east-1, eu-central-2, us-gov-west-1, cn-northwest-1, ap-southeast-5 ...
const REGION = /^[a-z]{2}(-[a-z]+)+-\d{1,2}$/;
const SERVICE = /^[a-z0-9][a-z0-9.-]{0,62}$/;
const HOST = /^(?=.{1,253}(:\d{1,5})?$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*(:\d{1,5})?$/;

/** AWS Signature Version 4 on every request, with the keys Envoy finds in its own environment. */
export const awsSigV4 = strict({
  /** The signing name of the service, e.g. s3, execute-api, es, lambda. */
  service: z.string().regex(SERVICE, { error: 'expected an AWS service signing name such as s3, execute-api, es or lambda: lowercase letters, digits, "." and "-"' }),
  region: z.string().regex(REGION, { error: 'expected an AWS region such as us-east-1 or eu-central-1' }),
  /** The Host header sent and signed; default: the upstream's TLS server name, else what the application sent. */
  host: z.string().regex(HOST, { error: 'expected a host name, optionally with a port, such as bucket.s3.us-east-1.amazonaws.com' }).optional(),
  /** Sign the literal UNSIGNED-PAYLOAD instead of the body's hash (Envoy then need not buffer the body). */
  unsignedPayload: z.boolean().default(false),
});
