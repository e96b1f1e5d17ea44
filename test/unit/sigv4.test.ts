// The SigV4 checker of the stand-in AWS API (demo/sigv4.ts) against AWS's published test suite
// (credentials AKIDEXAMPLE, 2015-08-30, us-east-1, service "service"), and against tampering.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { canonicalRequest, signature, verify, type SignableRequest } from '../../control-plane/src/demo/sigv4.ts';

const SECRET = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY';
const SCOPE = { date: '20150830', region: 'us-east-1', service: 'service' };
const AMZ_DATE = '20150830T123600Z';
const EMPTY = createHash('sha256').update('').digest('hex');

const request = (target: string, extra: [string, string][] = []): SignableRequest => ({
  method: 'GET', target, headers: [['Host', 'example.amazonaws.com'], ['X-Amz-Date', AMZ_DATE], ...extra], body: Buffer.alloc(0),
});

describe('AWS SigV4 test suite', () => {
  it('get-vanilla', () => {
    const canonical = canonicalRequest(request('/'), ['host', 'x-amz-date'], EMPTY, 'service');
    expect(canonical).toBe(`GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:${AMZ_DATE}\n\nhost;x-amz-date\n${EMPTY}`);
    expect(signature(canonical, AMZ_DATE, SCOPE, SECRET)).toBe('5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31');
  });

  it('get-vanilla-query-order-key-case', () => {
    const canonical = canonicalRequest(request('/?Param2=value2&Param1=value1'), ['host', 'x-amz-date'], EMPTY, 'service');
    expect(canonical.split('\n')[2]).toBe('Param1=value1&Param2=value2');
    expect(signature(canonical, AMZ_DATE, SCOPE, SECRET)).toBe('b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500');
  });
});

describe('verify', () => {
  const keys = new Map([['AKIDEXAMPLE', { secretAccessKey: SECRET }]]);
  const expectScope = { region: 'us-east-1', service: 'service', allowUnsignedPayload: false };
  const now = Date.UTC(2015, 7, 30, 12, 36, 0);
  const signed = (body: string, tamper: (r: SignableRequest) => SignableRequest = (r) => r): SignableRequest => {
    const hash = createHash('sha256').update(body).digest('hex');
    const base: SignableRequest = { method: 'POST', target: '/a/b?x=1', headers: [['host', 'example.amazonaws.com'], ['x-amz-date', AMZ_DATE], ['x-amz-content-sha256', hash]], body: Buffer.from(body) };
    const sig = signature(canonicalRequest(base, ['host', 'x-amz-content-sha256', 'x-amz-date'], hash, 'service'), AMZ_DATE, SCOPE, SECRET);
    return tamper({ ...base, headers: [...base.headers, ['authorization', `AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=${sig}`]] });
  };

  it('accepts a correctly signed request', () => {
    expect(verify(signed('{"a":1}'), keys, expectScope, now)).toEqual({ ok: true, accessKeyId: 'AKIDEXAMPLE', signedHeaders: ['host', 'x-amz-content-sha256', 'x-amz-date'], payload: 'signed' });
  });

  it('rejects a changed body, path, signed header, a wrong key, scope or time', () => {
    expect(verify(signed('{"a":1}', (r) => ({ ...r, body: Buffer.from('{"a":2}') })), keys, expectScope, now)).toEqual({ ok: false, reason: 'x-amz-content-sha256 is not the hash of the body' });
    expect(verify(signed('x', (r) => ({ ...r, target: '/a/c?x=1' })), keys, expectScope, now)).toEqual({ ok: false, reason: 'SignatureDoesNotMatch' });
    expect(verify(signed('x', (r) => ({ ...r, headers: r.headers.map(([n, v]) => [n, n === 'host' ? 'evil.example.com' : v] as const) })), keys, expectScope, now)).toEqual({ ok: false, reason: 'SignatureDoesNotMatch' });
    expect(verify(signed('x'), new Map([['AKIDEXAMPLE', { secretAccessKey: 'another' }]]), expectScope, now)).toEqual({ ok: false, reason: 'SignatureDoesNotMatch' });
    expect(verify(signed('x'), keys, { ...expectScope, region: 'eu-west-1' }, now)).toEqual({ ok: false, reason: 'credential scope us-east-1/service, expected eu-west-1/service' });
    expect(verify(signed('x'), keys, expectScope, now + 16 * 60_000)).toEqual({ ok: false, reason: 'x-amz-date 20150830T123600Z is more than 15 minutes from now' });
    expect(verify(signed('x'), new Map([['AKIDEXAMPLE', { secretAccessKey: SECRET, sessionToken: 'tok' }]]), expectScope, now)).toEqual({ ok: false, reason: 'missing or wrong x-amz-security-token' });
  });
});
