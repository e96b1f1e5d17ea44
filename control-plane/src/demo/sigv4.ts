// AWS Signature Version 4, as a service checks it (header form, AWS4-HMAC-SHA256), written from
// AWS's published description with node:crypto: the stand-in AWS API of the recipes and the tests
// recomputes each request's signature with it. Nothing here signs the product's traffic: Envoy does.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

export interface SignableRequest {
  method: string;
  /** The request target as received: path and query, percent-encoded as sent. */
  target: string;
  /** Header (name, value) pairs as received, repeated headers as separate pairs. */
  headers: readonly (readonly [string, string])[];
  body: Buffer;
}

export interface Scope {
  /** YYYYMMDD */
  date: string;
  region: string;
  service: string;
}

const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');
const hmac = (key: string | Buffer, data: string) => createHmac('sha256', key).update(data).digest();

/** RFC 3986 unreserved characters stay, everything else is %XX (uppercase), as AWS encodes. */
function uriEncode(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function decode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** S3 signs the path encoded once, as is; other services normalize it and encode each segment again. */
function canonicalUri(path: string, service: string): string {
  if (service === 's3') return path.split('/').map((seg) => uriEncode(decode(seg))).join('/') || '/';
  const out: string[] = [];
  for (const seg of path.split('/').slice(1)) {
    if (seg === '..') out.pop();
    else if (seg !== '.' && seg !== '') out.push(seg);
  }
  const trailing = path.length > 1 && path.endsWith('/') && out.length > 0 ? '/' : '';
  return `/${out.map((seg) => uriEncode(seg)).join('/')}${trailing}`;
}

function canonicalQuery(query: string): string {
  if (query === '') return '';
  const pairs = query.split('&').filter((p) => p !== '').map((p) => {
    const eq = p.indexOf('=');
    const [k, v] = eq < 0 ? [p, ''] : [p.slice(0, eq), p.slice(eq + 1)];
    return [uriEncode(decode(k.replaceAll('+', ' '))), uriEncode(decode(v.replaceAll('+', ' ')))] as const;
  });
  pairs.sort(([ak, av], [bk, bv]) => (ak < bk ? -1 : ak > bk ? 1 : av < bv ? -1 : av > bv ? 1 : 0));
  return pairs.map(([k, v]) => `${k}=${v}`).join('&');
}

/** Values of the named header, trimmed, inner runs of spaces collapsed, repeated ones joined by ",". */
export function headerValue(req: SignableRequest, name: string): string | undefined {
  const values = req.headers.filter(([n]) => n.toLowerCase() === name).map(([, v]) => v.trim().replace(/ +/g, ' '));
  return values.length === 0 ? undefined : values.join(',');
}

export function canonicalRequest(req: SignableRequest, signedHeaders: readonly string[], payloadHash: string, service: string): string {
  const q = req.target.indexOf('?');
  const path = q < 0 ? req.target : req.target.slice(0, q);
  const query = q < 0 ? '' : req.target.slice(q + 1);
  const headers = signedHeaders.map((h) => `${h}:${headerValue(req, h) ?? ''}\n`).join('');
  return [req.method, canonicalUri(path, service), canonicalQuery(query), headers, signedHeaders.join(';'), payloadHash].join('\n');
}

export function signature(canonical: string, amzDate: string, scope: Scope, secretAccessKey: string): string {
  const credentialScope = `${scope.date}/${scope.region}/${scope.service}/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, credentialScope, sha256(canonical)].join('\n');
  const key = hmac(hmac(hmac(hmac(`AWS4${secretAccessKey}`, scope.date), scope.region), scope.service), 'aws4_request');
  return createHmac('sha256', key).update(stringToSign).digest('hex');
}

export interface Keys {
  secretAccessKey: string;
  /** When set, requests must carry it (x-amz-security-token) and sign it. */
  sessionToken?: string;
}

export type Verdict = { ok: true; accessKeyId: string; signedHeaders: string[]; payload: 'signed' | 'unsigned' } | { ok: false; reason: string };

const AUTH = /^AWS4-HMAC-SHA256 Credential=([^/\s,]+)\/(\d{8})\/([^/\s,]+)\/([^/\s,]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/;

/** Checks a request's SigV4 signature as the service in `expect` would, at time `now`. */
export function verify(req: SignableRequest, keys: ReadonlyMap<string, Keys>, expect: { region: string; service: string; allowUnsignedPayload: boolean }, now = Date.now()): Verdict {
  const m = AUTH.exec(headerValue(req, 'authorization') ?? '');
  if (!m) return { ok: false, reason: 'no AWS4-HMAC-SHA256 authorization header' };
  const [, accessKeyId = '', date = '', region = '', service = '', signed = '', sig = ''] = m;
  const k = keys.get(accessKeyId);
  if (!k) return { ok: false, reason: `unknown access key id ${accessKeyId}` };
  if (region !== expect.region || service !== expect.service) return { ok: false, reason: `credential scope ${region}/${service}, expected ${expect.region}/${expect.service}` };
  const amzDate = headerValue(req, 'x-amz-date') ?? '';
  const t = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(amzDate);
  if (!t || !amzDate.startsWith(date)) return { ok: false, reason: `x-amz-date ${JSON.stringify(amzDate)} does not match the credential date ${date}` };
  const at = Date.UTC(Number(t[1]), Number(t[2]) - 1, Number(t[3]), Number(t[4]), Number(t[5]), Number(t[6]));
  if (Math.abs(at - now) > 15 * 60_000) return { ok: false, reason: `x-amz-date ${amzDate} is more than 15 minutes from now` };
  const signedHeaders = signed.split(';');
  const mustSign = ['host', 'x-amz-date', ...['x-amz-content-sha256', 'x-amz-security-token'].filter((h) => headerValue(req, h) !== undefined)];
  const unsignedRequired = mustSign.filter((h) => !signedHeaders.includes(h));
  if (unsignedRequired.length > 0) return { ok: false, reason: `${unsignedRequired.join(', ')} not signed` };
  if (k.sessionToken !== undefined && headerValue(req, 'x-amz-security-token') !== k.sessionToken) return { ok: false, reason: 'missing or wrong x-amz-security-token' };
  const bodyHash = sha256(req.body);
  const declared = headerValue(req, 'x-amz-content-sha256');
  if (declared === 'UNSIGNED-PAYLOAD' && !expect.allowUnsignedPayload) return { ok: false, reason: 'UNSIGNED-PAYLOAD is not accepted by this service' };
  if (declared !== undefined && declared !== 'UNSIGNED-PAYLOAD' && declared !== bodyHash) return { ok: false, reason: 'x-amz-content-sha256 is not the hash of the body' };
  const payloadHash = declared ?? bodyHash;
  const expected = signature(canonicalRequest(req, signedHeaders, payloadHash, service), amzDate, { date, region, service }, k.secretAccessKey);
  if (!timingSafeEqual(Buffer.from(expected), Buffer.from(sig))) return { ok: false, reason: 'SignatureDoesNotMatch' };
  return { ok: true, accessKeyId, signedHeaders, payload: declared === 'UNSIGNED-PAYLOAD' ? 'unsigned' : 'signed' };
}
