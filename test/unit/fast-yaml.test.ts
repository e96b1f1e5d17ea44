// The fast YAML reader is trusted only where it gives exactly what the full, position-keeping parse
// (safe-yaml.ts, then toJS) gives; everything else it must leave to the full parse.
import fs from 'node:fs';
import path from 'node:path';
import { LineCounter, parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { fastYaml } from '../../control-plane/src/model/fast-yaml.ts';
import { parseConfigMap } from '../../control-plane/src/model/parse-configmap.ts';
import { MAX_DEPTH, parseYaml } from '../../control-plane/src/model/safe-yaml.ts';
import { REPO_ROOT } from '../helpers/scenario.ts';

/** What the full parse makes of `text`: its value, or that it refuses it. */
function full(text: string): { value: unknown } | 'refused' {
  const docs = parseYaml(text, new LineCounter(), { prettyErrors: false, uniqueKeys: true }, true);
  const doc = docs[0];
  if (docs.length !== 1 || !doc || doc.problem || doc.doc.errors.length > 0) return 'refused';
  return { value: doc.doc.toJS() };
}

/** Every config the repository ships or tests translate: the golden inputs, examples and recipes. */
function repositoryConfigs(): [string, string][] {
  const files = [
    ...fs.readdirSync(path.join(REPO_ROOT, 'test/golden')).filter((f) => f.endsWith('.in.yaml')).map((f) => path.join('test/golden', f)),
    ...fs.readdirSync(path.join(REPO_ROOT, 'deploy/examples')).map((f) => path.join('deploy/examples', f)),
    ...fs.readdirSync(path.join(REPO_ROOT, 'deploy/recipes')).map((d) => path.join('deploy/recipes', d, 'ambassador.yaml')),
  ];
  return files.flatMap((file) => parseAllDocuments(fs.readFileSync(path.join(REPO_ROOT, file), 'utf8')).flatMap((d, i) => {
    const text: unknown = d.getIn(['data', 'ambassador.yaml']);
    return typeof text === 'string' ? [[`${file} #${i + 1}`, text] as [string, string]] : [];
  }));
}

const nested = (levels: number) => `${'['.repeat(levels)}1${']'.repeat(levels)}`;

describe('fastYaml', () => {
  const configs = repositoryConfigs();

  it('reads every config in the repository, to what the full parse gives', () => {
    expect(configs.length).toBeGreaterThan(30);
    for (const [name, text] of configs) {
      expect(fastYaml(text), name).toEqual(full(text));
    }
  });

  // Read by both, to the same value.
  it.each([
    // scalars as YAML 1.2's core schema resolves them
    'a: 0o17', 'a: 0x1F', 'a: 0b101', 'a: 1_000', 'a: 00012', 'a: -0', 'a: +1', 'a: 9007199254740993',
    'a: .5', 'a: 1.', 'a: 1e3', 'a: .inf', 'a: -.Inf', 'a: .NaN', 'a: 2001-12-14', 'a: yes', 'a: on',
    'a: ~', 'a: NULL', 'a: nULL', 'a: True', 'a: tRUE', 'a: "\\u263A\\x41\\/"', "a: 'it''s'", 'a: b\n  c',
    'a: |\n  x\n  y\n\n', 'a: >-\n  x\n  y\n\n  z\n', 'a: |2-\n   x\n', 'x: "a\n  b"', '"a": 1 b', '\ufeffa: 1', 'a: 1\n...\n',
    // collections and keys
    'a: [1, 2,]', 'a: {b, c: 1}', 'a: [b: 1]', '__proto__: {x: 1}', '<<: {a: 1}', '1: a', 'true: a', '.inf: a',
  ])('reads %j as the full parse does', (text) => {
    const fast = fastYaml(text);
    expect(fast).toBeDefined();
    expect(fast).toEqual(full(text));
  });

  // Left to the full parse: what js-yaml reads differently (null and collection keys, keys equal as
  // strings, explicit tags, a %YAML 1.1 document), what needs limits or lines (anchors and aliases,
  // deep nesting, errors), and what is not one document.
  it.each([
    'null: 1', '~: 1', '? [a, b]\n: 1', '[a, b]: 1', '{a: 1}: 2', '? \n: 1',
    'a: 1\na: 2', '1: a\n"1": b', 'true: a\n"true": b', 'a: &x 1\nb: *x', 'a: &x [1]\n<<: *x', 'a: !!binary aGVsbG8=',
    'a: !foo x', 'a: !!str 1', 'a: ! 1', 'a: !!int "7"', 'a: !!float 1', '---\na: 1\n---\nb: 2', '', '# only a comment',
    '%YAML 1.2\n---\na: 1', '%YAML 1.1\n---\na: yes', 'a:\n\t- 1', 'a: [',
    nested(MAX_DEPTH - 1), nested(MAX_DEPTH), nested(MAX_DEPTH + 1), nested(100_000),
  ])('leaves %j to the full parse', (text) => {
    expect(fastYaml(text)).toBeUndefined();
  });

  it('changes nothing parseConfigMap says: the same config, and errors with their lines', () => {
    const cm = (text: string) => ({ kind: 'ConfigMap' as const, namespace: 'shop', name: 'orders', labels: { 'xds-ambassador.io/config': 'true' }, origin: 'test', data: { 'ambassador.yaml': text } });
    const text = 'ambassador: orders\nlisteners:\n  - name: web\n    port: 8000\n    routes:\n      - {match: {prefix: /}, upstream: backend}\nupstreams:\n  backend: {endpoints: ["10.0.0.1:8080"]}\n';
    expect(fastYaml(text)).toBeDefined();
    const read = parseConfigMap(cm(text));
    expect(read.ok && Object.keys(read.config.upstreams)).toEqual(['backend']);
    // Anchors and aliases are left to the full parse, which reads them as before.
    const aliased = 'ambassador: orders\nlisteners:\n  - name: web\n    port: 8000\n    routes:\n      - {match: {prefix: /a}, upstream: &up backend}\n      - {match: {prefix: /b}, upstream: *up}\nupstreams:\n  backend: {endpoints: ["10.0.0.1:8080"]}\n';
    expect(fastYaml(aliased)).toBeUndefined();
    const withAlias = parseConfigMap(cm(aliased));
    const listener = withAlias.ok ? withAlias.config.listeners[0] : undefined;
    expect(listener && 'routes' in listener ? listener.routes?.map((r) => r.upstream) : undefined).toEqual(['backend', 'backend']);
    const broken = parseConfigMap(cm(text.replace('port: 8000', 'port: 99999')));
    expect(broken.ok).toBe(false);
    if (!broken.ok) expect(broken.errors).toMatchObject([{ path: expect.stringContaining('port'), line: 4 }]);
  });
});
