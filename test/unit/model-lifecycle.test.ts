// The model's lifecycle rules: who owns an ambassador (stable; a newcomer is rejected), which groups
// are held (a ConfigMap that claims one but was never valid), and configs that wait for their
// Secrets to be read instead of reporting them missing.
import { describe, expect, it } from 'vitest';
import { claimedAmbassador } from '../../control-plane/src/model/claimed-ambassador.ts';
import { formatConfigError } from '../../control-plane/src/model/errors.ts';
import { ModelBuilder } from '../../control-plane/src/model/model-builder.ts';
import { CONFIG_LABEL } from '../../control-plane/src/model/parse-configmap.ts';
import { objectKey, type ConfigMapObject, type SecretObject, type SourceObject, type SourceState } from '../../control-plane/src/sources/types.ts';

const config = (ambassador: string, port = 8000, extra = '') => `ambassador: ${ambassador}
listeners:
  - name: web
    port: ${port}
    routes:
      - match: {prefix: /}
        upstream: a${extra}
upstreams:
  a: {endpoints: ["10.0.0.1:80"]}
`;
const INVALID = (ambassador: string) => `ambassador: ${ambassador}\nlisteners: []\nupstreams: {}\n`;

function cm(name: string, text: string, created?: number): ConfigMapObject {
  return { kind: 'ConfigMap', namespace: 'shop', name, labels: { [CONFIG_LABEL]: 'true' }, origin: 'test', data: { 'ambassador.yaml': text }, ...(created === undefined ? {} : { created }) };
}
function secret(name: string, data: Record<string, string>): SecretObject {
  return { kind: 'Secret', namespace: 'shop', name, type: 'Opaque', labels: {}, origin: 'test', data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, new TextEncoder().encode(v)])) };
}
function state(objects: SourceObject[], secretsRead?: string[]): SourceState {
  return { objects: new Map(objects.map((o) => [objectKey(o), o])), problems: [], ...(secretsRead ? { secretsRead: new Set(secretsRead) } : {}) };
}
const owner = (r: ReturnType<ModelBuilder['build']>, group = 'shop/orders') => r.ambassadors.get(group)?.configMap;
const alreadyConfigured = (loser: string, winner: string) =>
  `ConfigMap shop/${loser}: ambassador.yaml: ambassador: ambassador "orders" in namespace "shop" is already configured by ConfigMap shop/${winner}; put all of an ambassador's listeners in one ConfigMap, or give this one another ambassador name`;

describe('ownership of an ambassador', () => {
  it('stays with the ConfigMap that has it: a newcomer whose name sorts first is the one rejected', () => {
    const b = new ModelBuilder();
    expect(owner(b.build(state([cm('zz-serving', config('orders'))])))).toBe('shop/zz-serving');
    const both = b.build(state([cm('zz-serving', config('orders')), cm('aa-newcomer', config('orders', 9000))]));
    expect(owner(both)).toBe('shop/zz-serving');
    expect(both.ambassadors.get('shop/orders')?.config.listeners[0]?.port).toBe(8000);
    expect(both.errors.map(formatConfigError)).toEqual([alreadyConfigured('aa-newcomer', 'zz-serving')]);
  });

  it('stays with its owner while the owner is invalid (it serves its last good version)', () => {
    const b = new ModelBuilder();
    b.build(state([cm('zz-serving', config('orders'))]));
    const r = b.build(state([cm('zz-serving', config('orders', 0)), cm('aa-newcomer', config('orders', 9000))]));
    expect(r.ambassadors.get('shop/orders')).toMatchObject({ configMap: 'shop/zz-serving', stale: true });
    expect(r.errors.map(formatConfigError)).toContain(alreadyConfigured('aa-newcomer', 'zz-serving'));
  });

  it('passes to the other claimant once the owner is deleted or stops claiming it', () => {
    const b = new ModelBuilder();
    b.build(state([cm('zz-serving', config('orders'))]));
    b.build(state([cm('zz-serving', config('orders')), cm('aa-newcomer', config('orders', 9000))]));
    const renamed = b.build(state([cm('zz-serving', config('billing')), cm('aa-newcomer', config('orders', 9000))]));
    expect(owner(renamed)).toBe('shop/aa-newcomer');
    expect(owner(renamed, 'shop/billing')).toBe('shop/zz-serving');
    expect(renamed.errors).toEqual([]);
    // And it keeps it when the former owner claims it again.
    const back = b.build(state([cm('zz-serving', config('orders')), cm('aa-newcomer', config('orders', 9000))]));
    expect(owner(back)).toBe('shop/aa-newcomer');
    expect(back.errors.map(formatConfigError)).toEqual([alreadyConfigured('zz-serving', 'aa-newcomer')]);
  });

  it('at a fresh start goes to the oldest claimant when creation times are known, else to the first by name', () => {
    const objects = [cm('aa-young', config('orders'), Date.parse('2026-05-02T00:00:00Z')), cm('zz-old', config('orders'), Date.parse('2026-05-01T00:00:00Z'))];
    expect(owner(new ModelBuilder().build(state(objects)))).toBe('shop/zz-old');
    // Same second (the API's resolution): by name.
    const tie = [cm('zz-b', config('orders'), 1000), cm('aa-a', config('orders'), 1000)];
    expect(owner(new ModelBuilder().build(state(tie)))).toBe('shop/aa-a');
    expect(owner(new ModelBuilder().build(state([cm('zz-b', config('orders')), cm('aa-a', config('orders'))])))).toBe('shop/aa-a');
  });

  it('at a fresh start goes to a valid claimant: an invalid one, even older, gets it only once the valid one is gone', () => {
    const b = new ModelBuilder();
    const r = b.build(state([cm('aa-broken', INVALID('orders'), 1), cm('zz-valid', config('orders'), 2)]));
    expect(owner(r)).toBe('shop/zz-valid');
    expect(r.held.size).toBe(0);
    const fixed = b.build(state([cm('aa-broken', config('orders', 9000), 1), cm('zz-valid', config('orders'), 2)]));
    expect(owner(fixed)).toBe('shop/zz-valid');
  });
});

describe('held groups', () => {
  it('a ConfigMap that was never valid holds the group it claims; a valid version releases it', () => {
    const b = new ModelBuilder();
    const r = b.build(state([cm('orders', INVALID('orders'))]));
    expect(r.ambassadors.size).toBe(0);
    expect([...r.held]).toEqual([['shop/orders', { configMap: 'shop/orders', parsing: false }]]);
    expect(r.errors).toHaveLength(1);
    const fixed = b.build(state([cm('orders', config('orders'))]));
    expect(fixed.held.size).toBe(0);
    expect(owner(fixed)).toBe('shop/orders');
    // Invalid again: it has a last good version now, so nothing is held.
    expect(b.build(state([cm('orders', INVALID('orders'))])).held.size).toBe(0);
  });

  it('holds even when the YAML does not parse, if its ambassador line is readable', () => {
    const r = new ModelBuilder().build(state([cm('orders', 'ambassador: orders\nlisteners: [oops\n')]));
    expect([...r.held]).toEqual([['shop/orders', { configMap: 'shop/orders', parsing: false }]]);
  });

  it('holds nothing for a group another ConfigMap configures, nor when no claim can be read', () => {
    const r = new ModelBuilder().build(state([cm('aa', INVALID('orders')), cm('zz', config('orders')), cm('junk', 'listeners: [oops\n')]));
    expect(r.held.size).toBe(0);
    expect(owner(r)).toBe('shop/zz');
  });

  it('reads the claimed ambassador from the top-level line only, and only when it is unambiguous', () => {
    expect(claimedAmbassador('ambassador: orders\n')).toBe('orders');
    expect(claimedAmbassador('# c\nambassador: "orders"  # the name\r\nlisteners: [\n')).toBe('orders');
    expect(claimedAmbassador("ambassador: 'a-1'")).toBe('a-1');
    expect(claimedAmbassador('  ambassador: nested\n')).toBeUndefined();
    expect(claimedAmbassador('ambassador: Bad_Name\n')).toBeUndefined();
    expect(claimedAmbassador('ambassador: a\nambassador: b\n')).toBeUndefined();
    expect(claimedAmbassador('{ambassador: a}')).toBeUndefined();
  });
});

describe('Secrets not read yet', () => {
  const withSecret = config('orders', 8000, '\n        inject: {header: x-key, secret: {name: api, key: token}}');

  it('a config whose Secret has not been read waits, and reports nothing about it', () => {
    const r = new ModelBuilder().build(state([cm('orders', withSecret)], []));
    expect(r.ambassadors.get('shop/orders')?.waiting).toBe(true);
    expect(r.errors).toEqual([]);
    expect([...r.wantedSecrets]).toEqual(['shop/api']);
  });

  it('once read, a found Secret is used and a missing one is reported', () => {
    const found = new ModelBuilder().build(state([cm('orders', withSecret), secret('api', { token: 't' })], ['shop/api']));
    expect(found.ambassadors.get('shop/orders')).toMatchObject({ waiting: false });
    expect(found.ambassadors.get('shop/orders')?.secrets.has('api')).toBe(true);
    expect(found.errors).toEqual([]);
    const missing = new ModelBuilder().build(state([cm('orders', withSecret)], ['shop/api']));
    expect(missing.ambassadors.get('shop/orders')?.waiting).toBe(false);
    expect(missing.errors.map(formatConfigError)).toEqual([
      'ConfigMap shop/orders: ambassador.yaml: listeners[0].routes[0].inject.secret: Secret shop/api not found; create it in namespace "shop", or fix the name at listeners[0].routes[0].inject.secret',
    ]);
  });

  it('a source that reads every Secret (no secretsRead) never makes a config wait', () => {
    const r = new ModelBuilder().build(state([cm('orders', withSecret)]));
    expect(r.ambassadors.get('shop/orders')?.waiting).toBe(false);
    expect(r.errors).toHaveLength(1);
  });
});
