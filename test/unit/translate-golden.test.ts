// Golden-file tests of the translator: test/golden/<feature>.in.yaml → test/golden/<feature>.out.yaml.
//
// Input format: Kubernetes manifests, exactly what a user would `kubectl apply`: one ConfigMap
// labelled xds-ambassador.io/config: "true", with its ambassador config under data.ambassador.yaml,
// and any Secrets it references. They are read with the directory source's manifest parser,
// validated with parseConfigMap and translated with translateAmbassador for the group
// {metadata.namespace, ambassador}, with the Secrets of that namespace (and the descriptor sets of
// its binaryData).
//
// Output format: a YAML list of every resource, ordered by xDS type in push order (CDS, EDS, LDS,
// RDS) and then by name; each entry has `type` (short name), `name`, `refs` (the clusters / route
// configurations it needs, when any), `edsName` (EDS clusters) and `body` (the resource in
// protobuf JSON-object form, as it is encoded for Envoy).
//
// To regenerate after an intended translator change, then review the diff by eye:
//   UPDATE_GOLDEN=1 node_modules/.bin/vitest run test/unit/translate-golden.test.ts
//
// Every resource is also encoded with encodeResource (which rejects unknown fields) and round-tripped
// through protobuf (encode → decode → toObject), which must give back the translator's body: nothing
// the translator writes may be silently dropped or changed by the encoding.
import fs from 'node:fs';
import path from 'node:path';
import protobuf from 'protobufjs';
import { parse, stringify } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { encodeResource } from '../../control-plane/src/cache/encode.ts';
import { parseConfigMap } from '../../control-plane/src/model/parse-configmap.ts';
import { formatConfigError } from '../../control-plane/src/model/errors.ts';
import { parseManifestFile } from '../../control-plane/src/sources/manifests.ts';
import { translateAmbassador } from '../../control-plane/src/translate/ambassador.ts';
import type { SecretObject } from '../../control-plane/src/sources/types.ts';
import type { Json, JsonObject, XdsResource } from '../../control-plane/src/translate/types.ts';
import { PUSH_ORDER, SHORT_NAME, typeName } from '../../control-plane/src/xds/type-urls.ts';
import { xdsRoot } from '../../control-plane/src/xds/protos.ts';

const GOLDEN_DIR = path.join(import.meta.dirname, '..', 'golden');
const UPDATE = process.env.UPDATE_GOLDEN === '1';
const REGENERATE = 'UPDATE_GOLDEN=1 node_modules/.bin/vitest run test/unit/translate-golden.test.ts';

const features = fs.readdirSync(GOLDEN_DIR).filter((f) => f.endsWith('.in.yaml')).map((f) => f.slice(0, -'.in.yaml'.length)).sort();

/** Reads <feature>.in.yaml and translates it; throws with the config errors when it is invalid. */
function translateFeature(feature: string): XdsResource[] {
  const file = path.join(GOLDEN_DIR, `${feature}.in.yaml`);
  const manifest = parseManifestFile(file, fs.readFileSync(file, 'utf8'));
  if ('problem' in manifest) throw new Error(`${file}: ${manifest.problem.message}`);
  const configMaps = manifest.objects.filter((o) => o.kind === 'ConfigMap');
  const cm = configMaps[0];
  if (cm?.kind !== 'ConfigMap' || configMaps.length > 1) throw new Error(`${file}: expected exactly one ConfigMap`);
  const parsed = parseConfigMap(cm);
  if (!parsed.ok) throw new Error(`${file}: invalid config:\n${parsed.errors.map(formatConfigError).join('\n')}`);
  const secrets = new Map<string, SecretObject>();
  for (const o of manifest.objects) if (o.kind === 'Secret' && o.namespace === cm.namespace) secrets.set(o.name, o);
  return translateAmbassador({ namespace: cm.namespace, ambassador: parsed.config.ambassador }, parsed.config, secrets, parsed.descriptorSets);
}

/** The entries the golden file lists, in its order. */
function goldenEntries(resources: readonly XdsResource[]) {
  const order = (r: XdsResource) => PUSH_ORDER.indexOf(r.type);
  const sorted = [...resources].sort((a, b) => order(a) - order(b) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return sorted.map((r) => ({
    type: SHORT_NAME[r.type],
    name: r.name,
    ...(r.refs.clusters.length > 0 || r.refs.routes.length > 0 ? { refs: r.refs } : {}),
    ...(r.edsName !== undefined ? { edsName: r.edsName } : {}),
    body: r.body,
  }));
}

function render(feature: string, resources: readonly XdsResource[]): string {
  const entries = goldenEntries(resources);
  const header = `# Generated from ${feature}.in.yaml by test/unit/translate-golden.test.ts; regenerate with\n# ${REGENERATE}\n`;
  return header + stringify(entries, { lineWidth: 0, aliasDuplicateObjects: false });
}

let root: protobuf.Root;
beforeAll(async () => {
  root = await xdsRoot();
});

describe('translator golden files', () => {
  it('has golden inputs', () => {
    expect(features.length).toBeGreaterThan(10);
  });

  for (const feature of features) {
    describe(feature, () => {
      it('matches the golden output', () => {
        const resources = translateFeature(feature);
        const actual = render(feature, resources);
        const outFile = path.join(GOLDEN_DIR, `${feature}.out.yaml`);
        if (UPDATE) {
          fs.writeFileSync(outFile, actual);
          return;
        }
        const expected = fs.existsSync(outFile) ? fs.readFileSync(outFile, 'utf8') : '';
        expect(actual, `test/golden/${feature}.out.yaml differs from the translator's output; if the change is intended, regenerate with\n  ${REGENERATE}\nand review the diff`).toBe(expected);
        // The golden file is valid YAML that reads back as exactly the translated resources (YAML
        // rendering loses nothing). Comparing parse(expected) with parse(actual) instead would hold
        // trivially once the texts are equal.
        expect(parse(expected)).toEqual(JSON.parse(JSON.stringify(goldenEntries(resources))));
      });

      it('every resource encodes, and survives a protobuf round trip unchanged', () => {
        const resources = translateFeature(feature);
        expect(resources.length).toBeGreaterThan(0); // the checks below are per resource
        for (const r of resources) {
          const encoded = encodeResource(root, r);
          const any = root.lookupType('google.protobuf.Any').decode(encoded.any) as unknown as { type_url: string; value: Uint8Array };
          expect(any.type_url).toBe(r.type);
          const type = root.lookupType(typeName(r.type));
          const decoded = toPlain(root, type.toObject(type.decode(any.value), { longs: Number, enums: String, bytes: String }));
          expect(decoded, `${SHORT_NAME[r.type]} ${r.name}`).toEqual(withoutProtoDefaults(root, type, r.body));
        }
      });
    });
  }
});

/**
 * Protobuf's object form differs from the translator's JSON-object form only in ways the wire
 * format dictates:
 * - a google.protobuf.Any decodes to {type_url, value?: bytes}; the translator writes the JSON mapping
 *   {"@type": url, ...fields}. Expanded here by decoding `value` with the type `type_url` names;
 * - toObject yields Buffers/Uint8Arrays and objects with prototypes; compared as plain data.
 */
function toPlain(root: protobuf.Root, v: unknown): Json {
  if (Array.isArray(v)) return v.map((x) => toPlain(root, x));
  if (v === null || typeof v !== 'object') return v as Json;
  const o = v as Record<string, unknown>;
  if (typeof o.type_url === 'string' && Object.keys(o).every((k) => k === 'type_url' || k === 'value')) {
    // (an empty message, e.g. the Router filter's config, has empty `value` bytes, which toObject omits)
    const type = root.lookupType(typeName(o.type_url));
    // (bytes decode as base64 strings, the form the translator writes them in)
    const value = typeof o.value === 'string' ? Buffer.from(o.value, 'base64') : new Uint8Array();
    const inner = toPlain(root, type.toObject(type.decode(value), { longs: Number, enums: String, bytes: String })) as JsonObject;
    return { '@type': o.type_url, ...inner };
  }
  const out: JsonObject = {};
  for (const [k, x] of Object.entries(o)) out[k] = toPlain(root, x);
  return out;
}

/**
 * proto3 does not put a singular scalar with its default value (0, "", false, the first enum value)
 * on the wire, so it cannot come back from a decode: Envoy sees exactly the same message with or
 * without it. Such fields are removed from the expected body — except members of a oneof, whose
 * presence is encoded (e.g. a Cluster's `type: STATIC`, a StringMatcher's `exact: ""`).
 * Everything else (messages, repeated fields, non-default scalars) must survive as written.
 */
function withoutProtoDefaults(root: protobuf.Root, type: protobuf.Type, body: JsonObject): JsonObject {
  let target = type;
  if (type.fullName === '.google.protobuf.Any' && typeof body['@type'] === 'string') target = root.lookupType(typeName(body['@type']));
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(body)) {
    const field = target.fields[key];
    if (key === '@type' || !field) {
      out[key] = value; // unknown fields are left in, so the comparison fails on them
      continue;
    }
    const sub = field.resolvedType;
    const nested = (v: Json): Json => (sub instanceof protobuf.Type && v !== null && typeof v === 'object' && !Array.isArray(v) ? withoutProtoDefaults(root, sub, v) : v);
    if (field.repeated && Array.isArray(value)) out[key] = value.map(nested);
    else if (field.map && value !== null && typeof value === 'object' && !Array.isArray(value)) out[key] = Object.fromEntries(Object.entries(value).map(([k, v]) => [k, nested(v)]));
    else if (sub instanceof protobuf.Type) out[key] = nested(value);
    else if (field.partOf === null && isProtoDefault(sub, value)) continue;
    else out[key] = value;
  }
  return out;
}

function isProtoDefault(sub: protobuf.Type | protobuf.Enum | null, value: Json): boolean {
  if (sub instanceof protobuf.Enum) return value === 0 || (typeof value === 'string' && sub.values[value] === 0);
  return value === 0 || value === '' || value === false;
}
