// The client status registry behind CSDS and ListAmbassadors, driven with the observer events the
// SotW stream sends (and the Delta stream's: `removed`), one rule per test.
import { describe, expect, it } from 'vitest';
import type { StreamRef } from '../../control-plane/src/server/observer.ts';
import { ClientStatusRegistry, type ResourceView } from '../../control-plane/src/server/status/client-status.ts';
import { CLUSTER, LISTENER, SECRET } from '../../control-plane/src/xds/type-urls.ts';

const ref = (streamId = 1, id = 'orders-1'): StreamRef => ({ protocol: 'sotw', streamId, node: { id, cluster: 'orders', metadata: { namespace: 'shop' }, userAgent: 'envoy' }, group: 'shop/orders', client: 'shop/orders (certificate)' });
const bytes = (s: string) => new TextEncoder().encode(s);
const res = (name: string, version: string) => ({ name, version, any: bytes(`${name}@${version}`) });

function setup() {
  let t = 0;
  const registry = new ClientStatusRegistry(() => new Date(++t * 1000));
  registry.streamOpened(ref());
  const view = (type: string = LISTENER) => registry.clients()[0]?.resources.filter((r) => r.typeUrl === type).map((r: ResourceView) => ({ name: r.name, version: r.version, status: r.status, error: r.error?.message }));
  return { registry, view };
}

describe('client status', () => {
  it('a sent resource is REQUESTED until ACKed; an unchanged one stays ACKED', () => {
    const { registry, view } = setup();
    registry.responseSent(ref(), LISTENER, 'v1', [res('a', '1'), res('b', '1')]);
    expect(view()).toEqual([{ name: 'a', version: '1', status: 'REQUESTED', error: undefined }, { name: 'b', version: '1', status: 'REQUESTED', error: undefined }]);
    registry.ack(ref(), LISTENER, 'v1');
    expect(view()?.map((r) => r.status)).toEqual(['ACKED', 'ACKED']);
    registry.responseSent(ref(), LISTENER, 'v2', [res('a', '1'), res('b', '2')]);
    expect(view()).toEqual([{ name: 'a', version: '1', status: 'ACKED', error: undefined }, { name: 'b', version: '2', status: 'REQUESTED', error: undefined }]);
    expect(registry.clients()[0]?.types).toEqual([{ typeUrl: LISTENER, sent: 'v2', acked: 'v1' }]);
  });

  it('an ACK of another version (stale) changes nothing', () => {
    const { registry, view } = setup();
    registry.responseSent(ref(), LISTENER, 'v1', [res('a', '1')]);
    registry.ack(ref(), LISTENER, 'v0');
    expect(view()?.[0]?.status).toBe('REQUESTED');
  });

  it('a SotW response ACKed is the whole state: what it leaves out is gone', () => {
    const { registry, view } = setup();
    registry.responseSent(ref(), LISTENER, 'v1', [res('a', '1'), res('b', '1')]);
    registry.ack(ref(), LISTENER, 'v1');
    registry.responseSent(ref(), LISTENER, 'v2', [res('a', '1')]);
    expect(view()?.map((r) => r.name)).toEqual(['a', 'b']); // Envoy still has b until it ACKs
    registry.ack(ref(), LISTENER, 'v2');
    expect(view()?.map((r) => r.name)).toEqual(['a']);
  });

  it("a NACK marks the changed resources NACKED with Envoy's message; the unchanged stay ACKED", () => {
    const { registry, view } = setup();
    registry.responseSent(ref(), LISTENER, 'v1', [res('a', '1')]);
    registry.ack(ref(), LISTENER, 'v1');
    registry.responseSent(ref(), LISTENER, 'v2', [res('a', '1'), res('second', '1')]);
    registry.nack(ref(), LISTENER, 'v2', "cannot bind '127.0.0.1:80'", ['ConfigMap shop/orders'], 'kept');
    expect(view()).toEqual([
      { name: 'a', version: '1', status: 'ACKED', error: undefined },
      { name: 'second', version: '1', status: 'NACKED', error: "cannot bind '127.0.0.1:80'" },
    ]);
    expect(registry.clients()[0]?.types[0]?.rejected?.message).toBe("cannot bind '127.0.0.1:80'");
  });

  it('the NACK stays visible through the fallback to the last accepted version, and goes with a later config', () => {
    const { registry, view } = setup();
    registry.responseSent(ref(), LISTENER, 'v1', [res('a', '1')]);
    registry.ack(ref(), LISTENER, 'v1');
    registry.responseSent(ref(), LISTENER, 'v2', [res('a', '1'), res('second', '1')]);
    registry.nack(ref(), LISTENER, 'v2', 'bad', [], 'rolled-back');
    // The group falls back: v1 again, without "second".
    registry.responseSent(ref(), LISTENER, 'v1', [res('a', '1')]);
    registry.ack(ref(), LISTENER, 'v1');
    expect(view()?.map((r) => [r.name, r.status])).toEqual([['a', 'ACKED'], ['second', 'NACKED']]);
    expect(registry.clients()[0]?.types[0]?.rejected?.message).toBe('bad');
    // The fix: a new config, ACKed.
    registry.responseSent(ref(), LISTENER, 'v3', [res('a', '1'), res('second', '2')]);
    registry.ack(ref(), LISTENER, 'v3');
    expect(view()).toEqual([{ name: 'a', version: '1', status: 'ACKED', error: undefined }, { name: 'second', version: '2', status: 'ACKED', error: undefined }]);
    expect(registry.clients()[0]?.types[0]?.rejected).toBeUndefined();
  });

  it('a Delta response, reported with the state it leads to, changes only what it sends and removes', () => {
    const { registry, view } = setup();
    const [a1, b1, b2, c1] = [res('a', '1'), res('b', '1'), res('b', '2'), res('c', '1')];
    registry.responseSent(ref(), CLUSTER, 'd1', [a1, b1], { sent: [a1, b1], removed: [] });
    registry.ack(ref(), CLUSTER, 'd1');
    // Removes a, adds c (unchanged b is not on the wire, only in the state).
    registry.responseSent(ref(), CLUSTER, 'd2', [{ name: 'b', version: '1' }, { name: 'c', version: '1' }], { sent: [c1], removed: ['a'] });
    // Two in flight at once: each answered on its own.
    registry.responseSent(ref(), CLUSTER, 'd3', [{ name: 'b', version: '2' }, { name: 'c', version: '1' }], { sent: [b2], removed: [] });
    expect(view(CLUSTER)?.map((r) => [r.name, r.version, r.status])).toEqual([['a', '1', 'ACKED'], ['b', '2', 'REQUESTED'], ['c', '1', 'REQUESTED']]);
    registry.ack(ref(), CLUSTER, 'd2');
    expect(view(CLUSTER)?.map((r) => [r.name, r.version, r.status])).toEqual([['b', '2', 'REQUESTED'], ['c', '1', 'ACKED']]);
    registry.ack(ref(), CLUSTER, 'd3');
    expect(view(CLUSTER)?.map((r) => [r.name, r.version, r.status])).toEqual([['b', '2', 'ACKED'], ['c', '1', 'ACKED']]);
    // The content comes from what went on the wire, and stays with an unchanged resource.
    const resources = registry.clients()[0]?.resources ?? [];
    expect(resources.map((r) => r.any && new TextDecoder().decode(r.any))).toEqual(['b@2', 'c@1']);
  });

  it('a SotW response supersedes the one before it: only the latest can be answered', () => {
    const { registry, view } = setup();
    registry.responseSent(ref(), LISTENER, 'v1', [res('a', '1')]);
    registry.responseSent(ref(), LISTENER, 'v2', [res('a', '2')]);
    registry.ack(ref(), LISTENER, 'v1'); // the stream ignores a stale nonce; no such ACK reaches a type's latest response
    expect(view()?.[0]).toMatchObject({ version: '2', status: 'REQUESTED' });
    registry.ack(ref(), LISTENER, 'v2');
    expect(view()?.[0]).toMatchObject({ version: '2', status: 'ACKED' });
  });

  it("never keeps a Secret's content", () => {
    const { registry } = setup();
    registry.responseSent(ref(), SECRET, 's1', [res('shop/tmdb/token/credential', 'h1')]);
    registry.responseSent(ref(), CLUSTER, 'c1', [res('shop/orders/tmdb', 'h2')]);
    const [secret, cluster] = [SECRET, CLUSTER].map((t) => registry.clients()[0]?.resources.find((r) => r.typeUrl === t));
    expect(secret?.any).toBeUndefined();
    expect(secret?.version).toBe('h1');
    expect(cluster?.any).toBeDefined();
  });

  it('lists connected streams only, by node id', () => {
    const { registry } = setup();
    registry.streamOpened(ref(2, 'a-node'));
    expect(registry.clients().map((c) => c.node.id)).toEqual(['a-node', 'orders-1']);
    registry.streamClosed(ref(1));
    expect(registry.clients().map((c) => c.node.id)).toEqual(['a-node']);
    registry.responseSent(ref(1), LISTENER, 'v1', [res('a', '1')]); // a late event of a closed stream
    expect(registry.clients().map((c) => c.node.id)).toEqual(['a-node']);
  });
});
