// A config's YAML read fast when nothing about it needs the full path. js-yaml reads a config some
// ten times faster than `yaml` does (no syntax tree, positions or per-token work), and an edit's
// parse was most of its time to the first Envoy. It is trusted only with plain YAML, where both
// libraries give the same value (test/unit/fast-yaml.test.ts holds them to it); for anything else
// the caller parses with safe-yaml.ts, which also gives every error its line. Left to it:
// - a syntax error; no document, or more than one; a directive (`%YAML 1.1` changes the schema);
// - tags, anchors and aliases (and so merge keys); nesting deeper than MAX_DEPTH;
// - a null or a collection as a map key (`yaml` makes them "" and YAML text), and keys equal as
//   strings (`1` and "1": two keys to `yaml`'s duplicate check, one to js-yaml's).
// Plain scalars resolve by YAML 1.2's core schema in both.
import { constructFromEvents, CORE_SCHEMA, defineMappingTag, EVENT_ID, mapTag, parseEvents } from 'js-yaml';
import { MAX_DEPTH } from './safe-yaml.ts';

const plainMapTag = defineMappingTag<Record<string, unknown>>('tag:yaml.org,2002:map', {
  create: mapTag.create,
  identify: mapTag.identify,
  has: mapTag.has,
  keys: mapTag.keys,
  get: mapTag.get,
  addPair: (map, key, value) => (key === null ? 'a null key' : mapTag.addPair(map, key, value)),
});
const schema = CORE_SCHEMA.withTags(plainMapTag);

/** The document's value, or undefined when the full parse must read it. */
export function fastYaml(text: string): { value: unknown } | undefined {
  try {
    const events = parseEvents(text, { maxDepth: MAX_DEPTH });
    for (const e of events) {
      if (e.type === EVENT_ID.ALIAS) return undefined;
      if (e.type === EVENT_ID.DOCUMENT && e.directives.length > 0) return undefined;
      if ((e.type === EVENT_ID.SCALAR || e.type === EVENT_ID.SEQUENCE || e.type === EVENT_ID.MAPPING) && (e.tagStart !== -1 || e.anchorStart !== -1)) return undefined;
    }
    const docs = constructFromEvents(events, { source: text, schema });
    return docs.length === 1 ? { value: docs[0] } : undefined;
  } catch {
    return undefined; // a syntax error or a refused key: the full parse says which, and where
  }
}
