// Building blocks of the config schema: strict objects, names, durations, endpoints, ports.
import { isIP } from 'node:net';
import { z } from 'zod';
import { parseDurationMs } from '../duration.ts';
import { closest } from '../errors.ts';

/** A strict object whose unknown-field error lists the allowed fields and the likely intended one. */
export function strict<T extends z.ZodRawShape>(shape: T) {
  const allowed = Object.keys(shape);
  return z.strictObject(shape, {
    error: (iss) => {
      if (iss.code === 'unrecognized_keys') {
        const hints = iss.keys.map((k) => {
          const near = closest(k, allowed);
          return near ? `"${k}" (did you mean "${near}"?)` : `"${k}"`;
        });
        return `unknown field ${hints.join(', ')}; allowed fields: ${allowed.join(', ')}`;
      }
      return undefined;
    },
  });
}

const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
export const dnsLabel = (what: string) =>
  z.string().regex(DNS_LABEL, { error: `expected ${/^[aeiou]/.test(what) ? 'an' : 'a'} ${what}: lowercase letters, digits and "-", starting and ending with a letter or digit, at most 63 characters` });

const DNS_SUBDOMAIN = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
export const serviceAccountName = z.string().regex(DNS_SUBDOMAIN, { error: 'expected a ServiceAccount name: lowercase letters, digits, "-" and ".", at most 253 characters' });

const DURATION_EXAMPLES = 'a duration such as "250ms", "5s", "1.5s" or "2m"';
// A bare number (timeout: 5) is a type error; say "duration", not "string", and so hint at the unit.
export const durationMs = z.string({ error: (iss) => (iss.input === undefined ? `missing required field (expected ${DURATION_EXAMPLES})` : `expected ${DURATION_EXAMPLES}`) }).transform((s, ctx) => {
  const ms = parseDurationMs(s);
  if (ms === undefined) {
    ctx.addIssue({ code: 'custom', message: `expected ${DURATION_EXAMPLES}, found ${JSON.stringify(s)}`, input: s });
    return z.NEVER;
  }
  return ms;
});

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;

export function isIpAddress(host: string): boolean {
  return isIP(host) !== 0;
}

/** "host:port" with a DNS name, an IPv4 address or a bracketed IPv6 address; undefined when it is not one. */
export function parseHostPort(s: string): { host: string; port: number } | undefined {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:\s]+)):(\d{1,5})$/.exec(s);
  const host = m?.[1] ?? m?.[2];
  const port = Number(m?.[3]);
  if (!m || host === undefined || !(port >= 1 && port <= 65535) || (m[1] !== undefined && isIP(host) !== 6) || (m[2] !== undefined && !IPV4.test(host) && !HOSTNAME.test(host))) return undefined;
  return { host, port };
}

export const endpoint = z.string().transform((s, ctx) => {
  const hp = parseHostPort(s);
  if (!hp) {
    ctx.addIssue({ code: 'custom', message: `expected an endpoint "host:port" (a DNS name, an IPv4 address or [IPv6], and a port 1-65535), found ${JSON.stringify(s)}`, input: s });
    return z.NEVER;
  }
  return hp;
});

export const port = z.int({ error: 'expected a port number 1-65535' }).min(1, { error: 'expected a port number 1-65535' }).max(65535, { error: 'expected a port number 1-65535' });
