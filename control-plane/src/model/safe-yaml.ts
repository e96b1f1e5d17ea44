// YAML from untrusted input (a ConfigMap anyone with create rights can write, a manifest file):
// parsed with limits, so hostile text becomes a precise problem on its own document, never an
// exception, a stack overflow or an endless walk further down the pipeline.
//
// - Nesting: at most MAX_DEPTH levels of maps and lists, checked on the parser's token tree
//   (built without recursion) before the recursive composer, toJS, zod or our own code walk it.
// - Aliases: each `*name` is replaced by the node it names, and the values reached that way are
//   counted: a "billion laughs" document (aliases of aliases) stops at MAX_ALIAS_VALUES, and an
//   alias inside the node it names (an endless loop) is refused. Replacing them also keeps the
//   yaml library's own alias resolution, which costs aliases × anchors, out of the way.
// - Duplicate keys: found here with one Set per map; the library's own check (uniqueKeys) compares
//   every key with every other and took 139 s for a map of 60,000 keys.
import { Composer, Parser, isAlias, isCollection, isPair, isScalar, type CST, type Document, type DocumentOptions, type LineCounter, type Node, type ParseOptions, type SchemaOptions } from 'yaml';

export const MAX_DEPTH = 100;
export const MAX_ALIAS_VALUES = 10_000;

export interface YamlProblem {
  /** Offset in the text, for the line. */
  offset: number;
  message: string;
}

export interface ParsedYaml {
  doc: Document.Parsed;
  /** Set when the document breaks a limit; its contents are then empty. */
  problem?: YamlProblem;
}

type Options = ParseOptions & DocumentOptions & SchemaOptions;

/** Every document of `text`; `single` also yields one (empty) document for empty text. */
export function parseYaml(text: string, lines: LineCounter, options: Options, single = false): ParsedYaml[] {
  const tokens = Array.from(new Parser(lines.addNewLine).parse(text));
  const problems: (YamlProblem | undefined)[] = [];
  for (const token of tokens) {
    if (token.type !== 'document') continue;
    const deep = tooDeep(token.value);
    if (deep !== undefined) {
      delete token.value; // never composed: the document is reported, not read
      problems.push({ offset: deep, message: `YAML nesting: more than ${MAX_DEPTH} levels of maps and lists — a config never needs that many; remove the extra nesting` });
    } else problems.push(undefined);
  }
  const docs = Array.from(new Composer({ ...options, uniqueKeys: false }).compose(tokens, single, text.length));
  return docs.map((doc, i) => {
    const problem = problems[i] ?? (doc.errors.length === 0 ? expandAliases(doc) : undefined);
    return problem ? { doc, problem } : { doc };
  });
}

/** The offset of the first map or list nested deeper than MAX_DEPTH, if any. */
function tooDeep(root: CST.Token | undefined): number | undefined {
  const stack: [CST.Token, number][] = root ? [[root, 0]] : [];
  for (let top = stack.pop(); top; top = stack.pop()) {
    const [token, depth] = top;
    if (token.type !== 'block-map' && token.type !== 'block-seq' && token.type !== 'flow-collection') continue;
    if (depth >= MAX_DEPTH) return token.offset;
    // Pushed last to first, so the first offending node in the text is the one found.
    for (let i = token.items.length - 1; i >= 0; i--) {
      const item = token.items[i];
      if (item?.value) stack.push([item.value, depth + 1]);
      if (item?.key) stack.push([item.key, depth + 1]);
    }
  }
  return undefined;
}

/**
 * Replaces every alias by the node it names, counting the values that adds (and the depth it
 * reaches), and finds duplicate keys; the problem when that breaks a limit, an alias cannot be
 * resolved or a map repeats a key.
 */
function expandAliases(doc: Document.Parsed): YamlProblem | undefined {
  const anchors = new Map<string, Node>();
  // Size (values) and height (levels of maps and lists) of each completed anchored node.
  const measured = new Map<Node, { size: number; height: number }>();
  const open = new Set<Node>();
  let aliasValues = 0;
  let problem: YamlProblem | undefined;

  // Returns the node to keep in the parent (the alias' target for an alias) and its measure.
  const visit = (node: unknown, depth: number): { node: unknown; size: number; height: number } => {
    if (problem) return { node, size: 0, height: 0 };
    if (isAlias(node)) {
      const offset = node.range?.[0] ?? 0;
      const target = anchors.get(node.source);
      if (!target) {
        problem = { offset, message: `YAML aliases: *${node.source} refers to no anchor &${node.source} before it — define the anchor first, or fix the name` };
        return { node, size: 0, height: 0 };
      }
      const m = measured.get(target);
      if (open.has(target) || !m) {
        problem = { offset, message: `YAML aliases: *${node.source} is inside the value of &${node.source} it refers to (an endless loop) — remove the alias` };
        return { node, size: 0, height: 0 };
      }
      aliasValues += m.size;
      if (aliasValues > MAX_ALIAS_VALUES) {
        problem = { offset, message: `YAML aliases: the aliases (*name) expand to more than ${MAX_ALIAS_VALUES} values — write the repeated parts out, or use fewer aliases` };
      } else if (depth + m.height > MAX_DEPTH) {
        problem = { offset, message: `YAML nesting: with the alias *${node.source} expanded, more than ${MAX_DEPTH} levels of maps and lists — remove the extra nesting` };
      }
      return { node: target, ...m };
    }
    if (!isScalar(node) && !isCollection(node)) return { node, size: 0, height: 0 };
    const anchor = node.anchor;
    if (anchor) anchors.set(anchor, node); // before its contents: an alias inside it is a loop
    let size = 1;
    let height = 0;
    if (isCollection(node)) {
      open.add(node);
      const items = node.items as unknown[];
      const keys = new Set<string>();
      items.forEach((item, i) => {
        if (isPair(item)) {
          if (isScalar(item.key) && !problem) {
            // Keys compare by value, as YAML says (in YAML 1.1, `on` and `true` are the same key).
            const key = `${typeof item.key.value}:${String(item.key.value)}`;
            if (keys.has(key)) problem = { offset: item.key.range?.[0] ?? 0, message: `YAML: the key ${JSON.stringify(String(item.key.source ?? item.key.value))} appears twice in the same map — keep one` };
            keys.add(key);
          }
          const k = visit(item.key, depth + 1);
          const v = visit(item.value, depth + 1);
          item.key = k.node;
          item.value = v.node;
          size += k.size + v.size;
          height = Math.max(height, k.height, v.height);
        } else {
          const v = visit(item, depth + 1);
          items[i] = v.node;
          size += v.size;
          height = Math.max(height, v.height);
        }
      });
      open.delete(node);
      height += 1;
    }
    if (anchor) measured.set(node, { size, height });
    return { node, size, height };
  };
  const root = visit(doc.contents, 0);
  if (!problem) doc.contents = root.node as typeof doc.contents;
  return problem;
}
