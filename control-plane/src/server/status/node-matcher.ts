// envoy.type.matcher.v3.NodeMatcher, as CSDS requests carry them: node.id by a StringMatcher, and
// node.metadata by StructMatchers (a path of keys, then a ValueMatcher), all of which must match.
// A request's matchers are checked once (compile) and refused with a message naming the field.
//
// safe_regex: Envoy uses RE2 (linear time); this uses the JavaScript engine, so constructs RE2 does
// not have (backreferences, lookaround) are refused, the pattern must match the whole string, and
// patterns are at most 1000 characters. The caller is an operator (see server/auth/operator.ts).
import type { NodeInfo } from '../node.ts';

/** A NodeMatcher as protobufjs decodes it (keepCase, oneofs as set fields, defaults off). */
export interface NodeMatcherMessage {
  node_id?: StringMatcherMessage | null;
  node_metadatas?: StructMatcherMessage[] | null;
}

export interface StringMatcherMessage {
  exact?: string | null;
  prefix?: string | null;
  suffix?: string | null;
  safe_regex?: { regex?: string | null } | null;
  contains?: string | null;
  custom?: unknown;
  ignore_case?: boolean | null;
}

interface StructMatcherMessage {
  path?: { key?: string | null }[] | null;
  value?: ValueMatcherMessage | null;
}

interface ValueMatcherMessage {
  null_match?: object | null;
  double_match?: { range?: { start?: number | null; end?: number | null } | null; exact?: number | null } | null;
  string_match?: StringMatcherMessage | null;
  bool_match?: boolean | null;
  present_match?: boolean | null;
  list_match?: { one_of?: ValueMatcherMessage | null } | null;
  or_match?: { value_matchers?: ValueMatcherMessage[] | null } | null;
}

export class MatcherError extends Error {}

type Test = (v: unknown) => boolean;
export type NodePredicate = (node: NodeInfo) => boolean;

const MAX_REGEX_CHARS = 1000;

/** One predicate for a request's matchers: OR over them (CSDS), AND within each; none matches every node. */
export function compileNodeMatchers(matchers: readonly NodeMatcherMessage[]): NodePredicate {
  const compiled = matchers.map((m, i) => compileNodeMatcher(m, `node_matchers[${i}]`));
  if (compiled.length === 0) return () => true;
  return (node) => compiled.some((p) => p(node));
}

function compileNodeMatcher(m: NodeMatcherMessage, at: string): NodePredicate {
  const id = m.node_id ? compileString(m.node_id, `${at}.node_id`) : undefined;
  const metadata = (m.node_metadatas ?? []).map((s, i) => compileStruct(s, `${at}.node_metadatas[${i}]`));
  return (node) => (id === undefined || id(node.id)) && metadata.every((p) => p(node.metadata));
}

function compileStruct(s: StructMatcherMessage, at: string): (metadata: Record<string, unknown>) => boolean {
  const path = (s.path ?? []).map((seg, i) => {
    if (!seg.key) throw new MatcherError(`${at}.path[${i}].key: a path segment needs a non-empty key`);
    return seg.key;
  });
  if (path.length === 0) throw new MatcherError(`${at}.path: at least one segment is required`);
  if (!s.value) throw new MatcherError(`${at}.value: required`);
  const value = compileValue(s.value, `${at}.value`);
  return (metadata) => {
    let v: unknown = metadata;
    for (const key of path) {
      if (!isStruct(v) || !Object.hasOwn(v, key)) return value(undefined);
      v = v[key];
    }
    return value(v);
  };
}

/** `undefined` is a path that leads nowhere (a Value with no kind set). */
function compileValue(m: ValueMatcherMessage, at: string): Test {
  const set = (['null_match', 'double_match', 'string_match', 'bool_match', 'present_match', 'list_match', 'or_match'] as const).filter((k) => m[k] !== undefined && m[k] !== null);
  if (set.length !== 1) throw new MatcherError(`${at}: exactly one of null_match, double_match, string_match, bool_match, present_match, list_match, or_match is required${set.length > 1 ? ` (found ${set.join(', ')})` : ''}`);
  if (m.null_match) return (v) => v === null;
  if (m.double_match) {
    const d = m.double_match;
    if (d.range) {
      const start = d.range.start ?? 0;
      const end = d.range.end ?? 0;
      return (v) => typeof v === 'number' && v >= start && v < end; // [start, end)
    }
    if (d.exact !== undefined && d.exact !== null) {
      const exact = d.exact;
      return (v) => typeof v === 'number' && v === exact;
    }
    throw new MatcherError(`${at}.double_match: one of range or exact is required`);
  }
  if (m.string_match) {
    const str = compileString(m.string_match, `${at}.string_match`);
    return (v) => typeof v === 'string' && str(v);
  }
  if (m.bool_match !== undefined && m.bool_match !== null) {
    const b = m.bool_match;
    return (v) => v === b;
  }
  if (m.present_match !== undefined && m.present_match !== null) {
    // Matches when whether the path leads to a primitive value equals present_match; a struct or a
    // list never matches.
    const present = m.present_match;
    return (v) => !isStruct(v) && !Array.isArray(v) && (v !== undefined) === present;
  }
  if (m.list_match) {
    if (!m.list_match.one_of) throw new MatcherError(`${at}.list_match.one_of: required`);
    const one = compileValue(m.list_match.one_of, `${at}.list_match.one_of`);
    return (v) => Array.isArray(v) && v.some(one);
  }
  const alternatives = m.or_match?.value_matchers ?? [];
  if (alternatives.length < 2) throw new MatcherError(`${at}.or_match.value_matchers: at least 2 alternatives are required`);
  const any = alternatives.map((a, i) => compileValue(a, `${at}.or_match.value_matchers[${i}]`));
  return (v) => any.some((t) => t(v));
}

function compileString(m: StringMatcherMessage, at: string): (s: string) => boolean {
  const set = (['exact', 'prefix', 'suffix', 'safe_regex', 'contains', 'custom'] as const).filter((k) => m[k] !== undefined && m[k] !== null);
  if (set.length !== 1) throw new MatcherError(`${at}: exactly one of exact, prefix, suffix, safe_regex, contains is required${set.length > 1 ? ` (found ${set.join(', ')})` : ''}`);
  const fold = m.ignore_case === true ? (s: string) => s.toLowerCase() : (s: string) => s;
  if (m.exact !== undefined && m.exact !== null) {
    const want = fold(m.exact);
    return (s) => fold(s) === want;
  }
  for (const k of ['prefix', 'suffix', 'contains'] as const) {
    const given = m[k];
    if (given === undefined || given === null) continue;
    if (given === '') throw new MatcherError(`${at}.${k}: must not be empty (use safe_regex to match anything)`);
    const want = fold(given);
    if (k === 'prefix') return (s) => fold(s).startsWith(want);
    if (k === 'suffix') return (s) => fold(s).endsWith(want);
    return (s) => fold(s).includes(want);
  }
  if (m.safe_regex) return compileRegex(m.safe_regex.regex ?? '', `${at}.safe_regex.regex`);
  throw new MatcherError(`${at}.custom: custom string matcher extensions are not supported here; use exact, prefix, suffix, safe_regex or contains`);
}

function compileRegex(pattern: string, at: string): (s: string) => boolean {
  if (pattern === '') throw new MatcherError(`${at}: required`);
  if (pattern.length > MAX_REGEX_CHARS) throw new MatcherError(`${at}: longer than ${MAX_REGEX_CHARS} characters`);
  // RE2 has neither backreferences nor lookaround; refusing them keeps a pattern meaning what it would in Envoy.
  if (/\\[1-9]|\\k<|\(\?<?[=!]/.test(pattern)) throw new MatcherError(`${at}: backreferences and lookaround are not RE2 syntax`);
  let re: RegExp;
  try {
    // RE2 writes a named group (?P<name>…); JavaScript (?<name>…).
    re = new RegExp(`^(?:${pattern.replaceAll('(?P<', '(?<')})$`, 'u');
  } catch (e) {
    throw new MatcherError(`${at}: not a valid regular expression: ${(e as Error).message}`);
  }
  return (s) => re.test(s);
}

function isStruct(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
