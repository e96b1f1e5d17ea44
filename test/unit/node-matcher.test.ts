// CSDS node matchers (envoy.type.matcher.v3.NodeMatcher), as a request carries them: every matcher
// the proto defines, their AND/OR semantics, and the refusals for malformed ones.
import { describe, expect, it } from 'vitest';
import type { NodeInfo } from '../../control-plane/src/server/node.ts';
import { compileNodeMatchers, MatcherError, type NodeMatcherMessage } from '../../control-plane/src/server/status/node-matcher.ts';

const node = (id: string, metadata: Record<string, unknown> = {}): NodeInfo => ({ id, cluster: 'orders', metadata, userAgent: 'envoy' });
const ORDERS = node('orders-7d9f-abcde', {
  namespace: 'shop',
  environment: 'staging',
  replicas: 3,
  canary: true,
  owner: null,
  labels: { app: 'orders', tier: 'backend' },
  zones: ['a', 'b'],
});
const matches = (m: NodeMatcherMessage[], n: NodeInfo = ORDERS) => compileNodeMatchers(m)(n);
const meta = (path: string[], value: object): NodeMatcherMessage => ({ node_metadatas: [{ path: path.map((key) => ({ key })), value }] });

describe('node_id', () => {
  it('matches exact, prefix, suffix, contains and safe_regex (whole string)', () => {
    expect(matches([{ node_id: { exact: 'orders-7d9f-abcde' } }])).toBe(true);
    expect(matches([{ node_id: { exact: 'orders' } }])).toBe(false);
    expect(matches([{ node_id: { prefix: 'orders-' } }])).toBe(true);
    expect(matches([{ node_id: { prefix: 'cart-' } }])).toBe(false);
    expect(matches([{ node_id: { suffix: '-abcde' } }])).toBe(true);
    expect(matches([{ node_id: { contains: '7d9f' } }])).toBe(true);
    expect(matches([{ node_id: { contains: 'xyz' } }])).toBe(false);
    expect(matches([{ node_id: { safe_regex: { regex: 'orders-[0-9a-f]+-[a-z]{5}' } } }])).toBe(true);
    // Matched against the full string, not a part of it.
    expect(matches([{ node_id: { safe_regex: { regex: '7d9f' } } }])).toBe(false);
    expect(matches([{ node_id: { safe_regex: { regex: '(?P<app>orders)-.*' } } }])).toBe(true);
  });

  it('ignore_case applies to exact/prefix/suffix/contains, not to safe_regex', () => {
    expect(matches([{ node_id: { exact: 'ORDERS-7D9F-ABCDE', ignore_case: true } }])).toBe(true);
    expect(matches([{ node_id: { exact: 'ORDERS-7D9F-ABCDE' } }])).toBe(false);
    expect(matches([{ node_id: { prefix: 'Orders', ignore_case: true } }])).toBe(true);
    expect(matches([{ node_id: { safe_regex: { regex: 'ORDERS.*' }, ignore_case: true } }])).toBe(false);
  });
});

describe('node_metadatas', () => {
  it('follows a path of keys into nested structs', () => {
    expect(matches([meta(['namespace'], { string_match: { exact: 'shop' } })])).toBe(true);
    expect(matches([meta(['labels', 'app'], { string_match: { exact: 'orders' } })])).toBe(true);
    expect(matches([meta(['labels', 'app'], { string_match: { exact: 'cart' } })])).toBe(false);
    expect(matches([meta(['labels', 'missing'], { string_match: { prefix: 'o' } })])).toBe(false);
    // A string matcher never matches a non-string.
    expect(matches([meta(['replicas'], { string_match: { exact: '3' } })])).toBe(false);
  });

  it('null, double (exact and [start, end)), bool', () => {
    expect(matches([meta(['owner'], { null_match: {} })])).toBe(true);
    expect(matches([meta(['namespace'], { null_match: {} })])).toBe(false);
    expect(matches([meta(['replicas'], { double_match: { exact: 3 } })])).toBe(true);
    expect(matches([meta(['replicas'], { double_match: { range: { start: 1, end: 3 } } })])).toBe(false);
    expect(matches([meta(['replicas'], { double_match: { range: { start: 3, end: 4 } } })])).toBe(true);
    expect(matches([meta(['canary'], { bool_match: true })])).toBe(true);
    expect(matches([meta(['canary'], { bool_match: false })])).toBe(false);
  });

  it('present_match: a primitive value is there (or not); a struct or list never matches', () => {
    expect(matches([meta(['environment'], { present_match: true })])).toBe(true);
    expect(matches([meta(['owner'], { present_match: true })])).toBe(true);
    expect(matches([meta(['nothing'], { present_match: true })])).toBe(false);
    expect(matches([meta(['nothing'], { present_match: false })])).toBe(true);
    expect(matches([meta(['environment'], { present_match: false })])).toBe(false);
    expect(matches([meta(['labels'], { present_match: true })])).toBe(false);
    expect(matches([meta(['zones'], { present_match: true })])).toBe(false);
  });

  it('list_match one_of, or_match', () => {
    expect(matches([meta(['zones'], { list_match: { one_of: { string_match: { exact: 'b' } } } })])).toBe(true);
    expect(matches([meta(['zones'], { list_match: { one_of: { string_match: { exact: 'c' } } } })])).toBe(false);
    expect(matches([meta(['namespace'], { list_match: { one_of: { string_match: { exact: 'shop' } } } })])).toBe(false);
    expect(matches([meta(['environment'], { or_match: { value_matchers: [{ string_match: { exact: 'prod' } }, { string_match: { exact: 'staging' } }] } })])).toBe(true);
    expect(matches([meta(['environment'], { or_match: { value_matchers: [{ string_match: { exact: 'prod' } }, { bool_match: true }] } })])).toBe(false);
  });
});

describe('combining', () => {
  it('within a matcher every condition must hold; across matchers any one', () => {
    const both: NodeMatcherMessage = { node_id: { prefix: 'orders-' }, node_metadatas: [meta(['namespace'], { string_match: { exact: 'shop' } }).node_metadatas?.[0] ?? {}] };
    expect(matches([both])).toBe(true);
    expect(matches([both], node('orders-1', { namespace: 'other' }))).toBe(false);
    expect(matches([{ node_id: { exact: 'cart-1' } }, { node_id: { prefix: 'orders-' } }])).toBe(true);
    expect(matches([{ node_id: { exact: 'cart-1' } }, { node_id: { exact: 'cart-2' } }])).toBe(false);
    // No matcher: every node.
    expect(matches([])).toBe(true);
    expect(matches([{}])).toBe(true);
  });
});

describe('malformed matchers are refused, naming the field', () => {
  const refused = (m: NodeMatcherMessage[], message: string) => {
    expect(() => compileNodeMatchers(m)).toThrow(MatcherError);
    expect(() => compileNodeMatchers(m)).toThrow(message);
  };
  it('empty prefix, no pattern, two patterns, custom', () => {
    refused([{ node_id: { prefix: '' } }], 'node_matchers[0].node_id.prefix: must not be empty');
    refused([{ node_id: {} }], 'node_matchers[0].node_id: exactly one of exact, prefix, suffix, safe_regex, contains is required');
    refused([{ node_id: { exact: 'a', prefix: 'b' } }], '(found exact, prefix)');
    refused([{ node_id: { custom: { name: 'x' } } }], 'node_matchers[0].node_id.custom: custom string matcher extensions are not supported');
  });
  it('regular expressions RE2 would not accept, or that do not compile', () => {
    refused([{ node_id: { safe_regex: { regex: '(a)\\1' } } }], 'backreferences and lookaround are not RE2 syntax');
    refused([{ node_id: { safe_regex: { regex: 'a(?=b)' } } }], 'not RE2 syntax');
    refused([{ node_id: { safe_regex: { regex: '(' } } }], 'node_matchers[0].node_id.safe_regex.regex: not a valid regular expression');
    refused([{ node_id: { safe_regex: { regex: 'a'.repeat(1001) } } }], 'longer than 1000 characters');
  });
  it('struct matchers without a path or a value, value matchers with none or two kinds', () => {
    refused([{ node_metadatas: [{ path: [], value: { bool_match: true } }] }], 'node_matchers[0].node_metadatas[0].path: at least one segment is required');
    refused([{ node_metadatas: [{ path: [{ key: '' }], value: { bool_match: true } }] }], 'node_metadatas[0].path[0].key');
    refused([{ node_metadatas: [{ path: [{ key: 'a' }] }] }], 'node_metadatas[0].value: required');
    refused([meta(['a'], {})], 'node_metadatas[0].value: exactly one of null_match');
    refused([meta(['a'], { bool_match: true, present_match: true })], '(found bool_match, present_match)');
    refused([meta(['a'], { or_match: { value_matchers: [{ bool_match: true }] } })], 'at least 2 alternatives');
    refused([meta(['a'], { double_match: {} })], 'double_match: one of range or exact is required');
  });
});
