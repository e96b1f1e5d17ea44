// One labelled ConfigMap → a validated AmbassadorConfig, or every error found in it.
// Never throws: whatever the text, the outcome is a config or errors on this ConfigMap alone.
import { LineCounter, isNode, type Document } from 'yaml';
import type { z } from 'zod';
import type { ConfigMapObject } from '../sources/types.ts';
import { ambassadorConfigSchema, type AmbassadorConfig } from './schema.ts';
import { checkConfig } from './check-config.ts';
import { configForEnvironment, environmentProblems } from './environments.ts';
import { describeValue, formatPath, withFileLine, type ConfigError } from './errors.ts';
import { fastYaml } from './fast-yaml.ts';
import { parseYaml } from './safe-yaml.ts';
import { transcodeDescriptors, type DescriptorSets } from './transcode-descriptors.ts';

export const CONFIG_LABEL = 'xds-ambassador.io/config';
export const CONFIG_KEY = 'ambassador.yaml';
/** More errors than this in one ConfigMap are counted, not listed: fix the first ones first. */
export const MAX_ERRORS = 20;

/** descriptorSets: the protobuf descriptor sets its transcoding routes read from the ConfigMap, by key. */
export type ParseResult = { ok: true; config: AmbassadorConfig; descriptorSets: DescriptorSets } | { ok: false; errors: ConfigError[] };

export function isAmbassadorConfigMap(cm: ConfigMapObject): boolean {
  return cm.labels[CONFIG_LABEL] === 'true';
}

export function parseConfigMap(cm: ConfigMapObject): ParseResult {
  let result: ParseResult;
  try {
    result = parse(cm);
  } catch (err) {
    // A bug (ours or a library's) on some input: it stays this ConfigMap's error.
    const message = `could not be validated (an internal error, please report it: ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}) — the last good version stays served`;
    result = { ok: false, errors: [{ object: `${cm.namespace}/${cm.name}`, key: CONFIG_KEY, path: '', message }] };
  }
  return result.ok ? result : { ok: false, errors: result.errors.map((e) => withFileLine(cm, e)) };
}

function parse(cm: ConfigMapObject): ParseResult {
  const object = `${cm.namespace}/${cm.name}`;
  const fail = (path: string, message: string, line?: number): ParseResult =>
    ({ ok: false, errors: [{ object, key: CONFIG_KEY, path, message, ...(line === undefined ? {} : { line }) }] });

  const text = cm.data[CONFIG_KEY];
  if (text === undefined) {
    const keys = Object.keys(cm.data);
    return fail('', `missing: the ConfigMap is labelled ${CONFIG_LABEL}: "true" but has no data key "${CONFIG_KEY}" (found ${keys.length ? keys.map((k) => `"${k}"`).join(', ') : 'no keys'}); put the ambassador config under data.${CONFIG_KEY}`);
  }
  // The usual valid config is read fast; anything else (an error, or YAML the fast reader leaves
  // alone) is read again in full, for the errors' lines.
  const fast = fastYaml(text);
  if (fast && fast.value !== null && fast.value !== undefined) {
    const checked = validate(fast.value, cm);
    if (checked.ok) return checked;
  }
  const lines = new LineCounter();
  const [first, second] = parseYaml(text, lines, { prettyErrors: false, uniqueKeys: true }, true);
  if (!first) return fail('', EMPTY);
  if (second) return fail('', 'invalid YAML: more than one document (a "---" line) — put the whole config in one document', lines.linePos(second.doc.range[0]).line);
  const { doc, problem } = first;
  if (doc.errors.length > 0) {
    return { ok: false, errors: listed(object, doc.errors, (e) => ({ object, key: CONFIG_KEY, path: '', line: lines.linePos(e.pos[0]).line, message: `invalid YAML: ${e.message.split('\n')[0]}` })) };
  }
  if (problem) return fail('', problem.message, lines.linePos(problem.offset).line);
  let input: unknown;
  try {
    input = doc.toJS();
  } catch (err) {
    return fail('', `invalid YAML: ${(err as Error).message}`); // e.g. a merge key (<<) of a list
  }
  if (input === null || input === undefined) return fail('', EMPTY);
  const checked = validate(input, cm);
  if (checked.ok) return checked;
  return { ok: false, errors: listed(object, checked.problems, (p) => toConfigError(object, doc, lines, p.path, p.message)) };
}

const EMPTY = 'empty: expected the ambassador config (a map with "ambassador", "listeners" and "upstreams")';

/** The config in a YAML document's value, or what is wrong with it (each at its path in the value). */
function validate(input: unknown, cm: ConfigMapObject): Extract<ParseResult, { ok: true }> | { ok: false; problems: { path: readonly PropertyKey[]; message: string }[] } {
  const parsed = ambassadorConfigSchema.safeParse(input, { reportInput: true, error: explainIssue });
  if (!parsed.success) return { ok: false, problems: parsed.error.issues.map((iss) => ({ path: iss.path, message: issueMessage(iss) })) };
  const transcoding = transcodeDescriptors(parsed.data, cm);
  const problems = [...checkConfig(parsed.data), ...environmentProblems(parsed.data), ...transcoding.problems];
  for (const env of Object.keys(parsed.data.environments)) {
    const seen = new Set(problems.map((p) => `${p.path.join('.')}\u0000${p.message}`));
    for (const p of checkConfig(configForEnvironment(parsed.data, env))) {
      if (!seen.has(`${p.path.join('.')}\u0000${p.message}`)) problems.push({ path: ['environments', env], message: `with this environment's overrides, ${p.path.join('.')}: ${p.message}` });
    }
  }
  if (problems.length > 0) return { ok: false, problems };
  return { ok: true, config: parsed.data, descriptorSets: transcoding.descriptorSets };
}

/** The first MAX_ERRORS as errors (their lines looked up), then one that counts the rest. */
function listed<T>(object: string, items: readonly T[], toError: (item: T) => ConfigError): ConfigError[] {
  const errors = items.slice(0, MAX_ERRORS).map(toError);
  const more = items.length - MAX_ERRORS;
  if (more > 0) errors.push({ object, key: CONFIG_KEY, path: '', message: `and ${more} more error${more === 1 ? '' : 's'} not listed — fix the ones above first` });
  return errors;
}

function toConfigError(object: string, doc: Document, lines: LineCounter, path: readonly PropertyKey[], message: string): ConfigError {
  const line = lineOf(doc, lines, path);
  return { object, key: CONFIG_KEY, path: formatPath(path), message, ...(line === undefined ? {} : { line }) };
}

/** The line of the deepest node that exists along path (the parent, when a field is missing). */
function lineOf(doc: Document, lines: LineCounter, path: readonly PropertyKey[]): number | undefined {
  for (let n = path.length; n >= 0; n--) {
    const node = doc.getIn(path.slice(0, n).map((p) => (typeof p === 'symbol' ? String(p) : p)), true);
    if (isNode(node) && node.range) return lines.linePos(node.range[0]).line;
  }
  return undefined;
}

type Issue = z.core.$ZodIssue;

/** Adds what was found to a schema's own "expected ..." message. */
function issueMessage(iss: Issue): string {
  if (iss.message.startsWith('expected') && !iss.message.includes(', found') && 'input' in iss) {
    return `${iss.message}, found ${describeValue(iss.input)}`;
  }
  return iss.message;
}

/** Messages for the issues a schema does not word itself. */
function explainIssue(iss: z.core.$ZodRawIssue): string | undefined {
  switch (iss.code) {
    case 'invalid_type':
      return iss.input === undefined ? `missing required field (expected ${article(iss.expected)})` : `expected ${article(iss.expected)}, found ${describeValue(iss.input)}`;
    case 'too_small':
      return iss.origin === 'array' ? `expected at least ${iss.minimum} item${iss.minimum === 1 ? '' : 's'}` : `expected at least ${iss.minimum}, found ${describeValue(iss.input)}`;
    case 'too_big':
      return iss.origin === 'array' ? `expected at most ${iss.maximum} items` : `expected at most ${iss.maximum}, found ${describeValue(iss.input)}`;
    case 'invalid_key': // a record key (header name, upstream name): the key schema's own message, found the key
      return iss.issues[0]?.message.startsWith('expected') ? iss.issues[0].message : `expected a valid key, found ${describeValue(iss.input)}`;
    case 'invalid_value':
      return `expected ${iss.values.map((v) => JSON.stringify(v)).join(' or ')}, found ${describeValue(iss.input)}`;
    default:
      return undefined;
  }
}

function article(expected: string): string {
  const names: Record<string, string> = { int: 'an integer', number: 'a number', string: 'a string', object: 'a map', array: 'a list', boolean: 'true or false' };
  return names[expected] ?? expected;
}
