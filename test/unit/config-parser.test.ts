// Large configs are parsed in a worker thread (the event loop never waits for the YAML library),
// with a deadline; small ones at once. The result is parseConfigMap's, whichever way.
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigParser } from '../../control-plane/src/model/config-parser.ts';
import { ModelBuilder } from '../../control-plane/src/model/model-builder.ts';
import { parseConfigMap } from '../../control-plane/src/model/parse-configmap.ts';
import type { ConfigMapObject, SourceObject } from '../../control-plane/src/sources/types.ts';

const cm = (name: string, text: string): ConfigMapObject => ({
  kind: 'ConfigMap', namespace: 'shop', name, labels: { 'xds-ambassador.io/config': 'true' }, origin: 'test', data: { 'ambassador.yaml': text },
});
const valid = (routes: number) => `ambassador: orders
listeners:
  - name: api
    port: 8080
    routes:
${Array.from({ length: routes }, (_, i) => `      - {match: {prefix: /r${i}}, upstream: backend}`).join('\n')}
upstreams:
  backend: {endpoints: ["backend.shop.svc:80"]}
`;
const parsers: ConfigParser[] = [];
afterEach(async () => { for (const p of parsers.splice(0)) await p.close(); });
const parser = (timeoutMs = 10_000) => {
  const p = new ConfigParser({ inlineChars: 1024, timeoutMs });
  parsers.push(p);
  return p;
};

describe('ConfigParser', () => {
  it('gives what parseConfigMap gives, inline for a small config and from the worker for a large one', async () => {
    const p = parser();
    const small = cm('small', valid(1));
    const large = cm('large', valid(500));
    expect(p.isInline(small)).toBe(true);
    expect(p.isInline(large)).toBe(false);
    expect(await p.parse(small)).toEqual(parseConfigMap(small));
    expect(await p.parse(large)).toEqual(parseConfigMap(large));
    const broken = cm('broken', `${valid(500)}\ntimeout: soon\n`);
    expect(await p.parse(broken)).toEqual(parseConfigMap(broken));
  });

  it('gives up on a parse past its deadline with an error on that ConfigMap, and parses the next one', async () => {
    const p = parser(50);
    const slow = await p.parse(cm('slow', `ambassador: slow\nlisteners: [${Array(350_000).fill('1').join(',')}]`));
    expect(slow).toEqual({ ok: false, errors: [{ object: 'shop/slow', key: 'ambassador.yaml', path: '', message: 'is too large or too complex to parse within 0.05 s — make the config smaller or simpler; the last good version stays served' }] });
    const next = await parser().parse(cm('next', valid(500)));
    expect(next.ok).toBe(true);
  });

  it('lets the model go on while a large config is parsed, and asks for a build once it is', async () => {
    const p = parser();
    let parsed = 0;
    const builder = new ModelBuilder({ parser: p, onParsed: () => parsed++ });
    const objects = new Map<string, SourceObject>([['ConfigMap/shop/orders', cm('orders', valid(500))]]);
    const first = builder.build({ objects, problems: [] });
    expect([...first.ambassadors.keys()]).toEqual([]);
    expect([...first.held]).toEqual([['shop/orders', { configMap: 'shop/orders', parsing: true }]]);
    expect(first.errors).toEqual([]);
    await new Promise<void>((resolve) => { const t = setInterval(() => { if (parsed > 0) { clearInterval(t); resolve(); } }, 5); });
    const second = builder.build({ objects, problems: [] });
    expect([...second.ambassadors.keys()]).toEqual(['shop/orders']);
    expect([...second.held]).toEqual([]);
  });
});
