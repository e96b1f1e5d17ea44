// A change costs what changed: a build after an edit makes new models only for the groups the edit
// touches (the others keep the very same objects, so nothing downstream is redone for them), a
// changed Secret remakes exactly the groups that reference it, and the answers are the ones a
// fresh build gives (ownership, errors, holds), whichever path the builder took.
import { describe, expect, it } from 'vitest';
import { ResourceEncoder } from '../../control-plane/src/cache/resource-encoder.ts';
import { formatConfigError } from '../../control-plane/src/model/errors.ts';
import { ModelBuilder, type ModelResult } from '../../control-plane/src/model/model-builder.ts';
import { CONFIG_LABEL } from '../../control-plane/src/model/parse-configmap.ts';
import { objectKey, type ConfigMapObject, type SecretObject, type SourceObject, type SourceState } from '../../control-plane/src/sources/types.ts';
import { translateAmbassador } from '../../control-plane/src/translate/ambassador.ts';
import { xdsRoot } from '../../control-plane/src/xds/protos.ts';

const config = (ambassador: string, prefix = '/', extra = '') => `ambassador: ${ambassador}
listeners:
  - name: web
    port: 8000
    routes:
      - match: {prefix: ${prefix}}
        upstream: a${extra}
upstreams:
  a: {endpoints: ["10.0.0.1:80"]}
  b: {endpoints: ["10.0.0.2:80"]}
`;
const withSecret = (ambassador: string) => config(ambassador, '/', '\n        inject: {header: x-key, secret: {name: api, key: token}}');

function cm(name: string, text: string, namespace = 'shop'): ConfigMapObject {
  return { kind: 'ConfigMap', namespace, name, labels: { [CONFIG_LABEL]: 'true' }, origin: 'test', data: { 'ambassador.yaml': text } };
}
function secret(name: string, token: string, namespace = 'shop'): SecretObject {
  return { kind: 'Secret', namespace, name, type: 'Opaque', labels: {}, origin: 'test', data: { token: new TextEncoder().encode(token) } };
}
function state(objects: SourceObject[]): SourceState {
  return { objects: new Map(objects.map((o) => [objectKey(o), o])), problems: [] };
}
/** What a build says, in a form two builds can be compared by. */
function outcome(r: ModelResult): unknown {
  return {
    ambassadors: [...r.ambassadors].map(([key, m]) => [key, m.configMap, m.stale, m.waiting, m.secretsVersion, [...m.secrets.keys()]]),
    errors: r.errors.map(formatConfigError),
    wanted: [...r.wantedSecrets].sort(),
    held: [...r.held],
  };
}

describe('an edit among many ConfigMaps', () => {
  const others = Array.from({ length: 50 }, (_, i) => cm(`c${i}`, config(`c${i}`)));

  it('remakes only the edited group: every other group keeps the same model object', () => {
    const builder = new ModelBuilder();
    const first = builder.build(state([cm('orders', config('orders')), ...others]));
    const edited = cm('orders', config('orders', '/v2'));
    const second = builder.build(state([edited, ...others]));
    expect(second.ambassadors.get('shop/orders')).not.toBe(first.ambassadors.get('shop/orders'));
    expect(second.ambassadors.get('shop/orders')?.config.listeners[0]).toMatchObject({ routes: [{ match: { prefix: '/v2' } }] });
    for (const o of others) expect(second.ambassadors.get(`shop/${o.name}`), o.name).toBe(first.ambassadors.get(`shop/${o.name}`));
    expect(outcome(second)).toEqual(outcome(new ModelBuilder().build(state([edited, ...others]))));
  });

  it('a changed Secret remakes exactly the groups that reference it', () => {
    const builder = new ModelBuilder();
    const users = [cm('orders', withSecret('orders')), cm('cart', withSecret('cart'))];
    const elsewhere = cm('tenant', withSecret('tenant'), 'other'); // a Secret "api" of its own namespace
    const objects = [...users, elsewhere, ...others, secret('api', 'one'), secret('api', 'x', 'other')];
    const first = builder.build(state(objects));
    const second = builder.build(state([...objects.slice(0, -2), secret('api', 'two'), objects.at(-1) as SourceObject]));
    for (const key of ['shop/orders', 'shop/cart']) {
      expect(second.ambassadors.get(key), key).not.toBe(first.ambassadors.get(key));
      expect(second.ambassadors.get(key)?.secretsVersion).not.toBe(first.ambassadors.get(key)?.secretsVersion);
    }
    expect(second.ambassadors.get('other/tenant')).toBe(first.ambassadors.get('other/tenant'));
    for (const o of others) expect(second.ambassadors.get(`shop/${o.name}`), o.name).toBe(first.ambassadors.get(`shop/${o.name}`));
  });

  it('gives what a fresh build gives through a series of edits: ownership, rejections, holds, fixes', () => {
    const builder = new ModelBuilder();
    const steps: SourceObject[][] = [];
    const a1 = cm('a', config('orders'));
    const b = cm('b', config('orders', '/b')); // claims the ambassador a has: rejected
    steps.push([a1, b, ...others]);
    steps.push([cm('a', config('orders', '/a2')), b, ...others]); // a plain edit of the owner
    const aBroken = cm('a', 'ambassador: orders\nlisteners: []\nupstreams: {}\n');
    steps.push([aBroken, b, ...others]); // invalid: a keeps its last good version and the ambassador
    steps.push([cm('a', config('payments')), b, ...others]); // a moves away: b gets orders
    steps.push([cm('a', config('payments', '/p2')), b, ...others]);
    steps.push([cm('a', config('payments', '/p3')), cm('b', config('orders', '/b2')), ...others]);
    steps.push([cm('a', withSecret('payments')), cm('b', config('orders', '/b2')), ...others]); // now uses a missing Secret
    const never = cm('never', 'ambassador: fresh\nlisteners: []\nupstreams: {}\n');
    steps.push([cm('a', withSecret('payments')), cm('b', config('orders', '/b2')), never, ...others]); // holds "fresh"
    let previous: ModelResult | undefined;
    for (const [i, objects] of steps.entries()) {
      const fresh = new ModelBuilder();
      // A fresh builder has no history: give it the same one (owners come from earlier builds).
      for (const earlier of steps.slice(0, i)) fresh.build(state(earlier));
      const r = builder.build(state(objects));
      expect(outcome(r), `step ${i}`).toEqual(outcome(fresh.build(state(objects))));
      previous = r;
    }
    expect(previous?.ambassadors.get('shop/orders')?.configMap).toBe('shop/b');
    expect(previous?.held.get('shop/fresh')).toEqual({ configMap: 'shop/never', parsing: false });
    expect(previous?.errors.map(formatConfigError).some((e) => e.includes('Secret shop/api not found'))).toBe(true);
  });
});

describe('encoding a group again', () => {
  it('re-encodes only the resources whose content changed; the others keep their bytes', async () => {
    const encoder = new ResourceEncoder(await xdsRoot());
    const group = { namespace: 'shop', ambassador: 'orders' };
    const parse = (text: string) => {
      const r = new ModelBuilder().build(state([cm('orders', text)])).ambassadors.get('shop/orders');
      if (!r) throw new Error('no model');
      return translateAmbassador(group, r.config, r.secrets, r.descriptorSets);
    };
    const id = (r: { type: string; name: string }) => `${r.type} ${r.name}`;
    const before = new Map(encoder.encode('shop/orders', parse(config('orders'))).map((r) => [id(r), r]));
    const after = encoder.encode('shop/orders', parse(config('orders', '/v2')));
    const changed = after.filter((r) => before.get(id(r))?.any !== r.any).map((r) => r.type.split('.').at(-1));
    expect(after.length).toBeGreaterThan(3);
    expect(changed).toEqual(['RouteConfiguration']); // a route's prefix: only the route table changed
    // Forgotten (the group was removed): everything is encoded anew.
    encoder.forget('shop/orders');
    const again = encoder.encode('shop/orders', parse(config('orders', '/v2')));
    expect(again.every((r) => after.find((a) => id(a) === id(r))?.any !== r.any)).toBe(true);
  });
});
