// A protobuf descriptor set for the gRPC-JSON transcoder, checked before Envoy sees it: Envoy
// refuses the whole route configuration (a NACK) for a set it cannot build, so what it would refuse
// is said here, on the ConfigMap, with the route's path. The bytes are hostile input: they are only
// decoded (never printed), with a reader of just the descriptor fields that matter here, none of
// them recursive.
import protobuf from 'protobufjs';
import { closest } from './errors.ts';

// Field numbers of google/protobuf/descriptor.proto and of the google.api.http method option
// (google/api/annotations.proto); the HTTP rule itself is kept as bytes: only its presence matters.
const reader = protobuf.Root.fromJSON({
  nested: {
    FileDescriptorSet: { fields: { file: { rule: 'repeated', type: 'FileDescriptorProto', id: 1 } } },
    FileDescriptorProto: {
      fields: {
        name: { type: 'string', id: 1 },
        package: { type: 'string', id: 2 },
        dependency: { rule: 'repeated', type: 'string', id: 3 },
        service: { rule: 'repeated', type: 'ServiceDescriptorProto', id: 6 },
      },
    },
    ServiceDescriptorProto: { fields: { name: { type: 'string', id: 1 }, method: { rule: 'repeated', type: 'MethodDescriptorProto', id: 2 } } },
    MethodDescriptorProto: { fields: { name: { type: 'string', id: 1 }, options: { type: 'MethodOptions', id: 4 } } },
    MethodOptions: { fields: { http: { type: 'bytes', id: 72295728 } } },
  },
}).lookupType('FileDescriptorSet');

interface DecodedSet {
  file: { name: string; package: string; dependency: string[]; service: { name: string; method: { name: string; options?: { http?: Uint8Array } }[] }[] }[];
}

export interface DescriptorSetInfo {
  /** Fully-qualified service name → whether any of its methods has a google.api.http rule. */
  services: Map<string, boolean>;
}

const REBUILD = 'build it with protoc --include_imports --descriptor_set_out=FILE your.proto';

/** What the set declares, or why Envoy could not build it. */
export function readDescriptorSet(bytes: Uint8Array): DescriptorSetInfo | { problem: string } {
  if (bytes.length === 0) return { problem: `is empty, not a protobuf descriptor set — ${REBUILD}` };
  let set: DecodedSet;
  try {
    set = reader.toObject(reader.decode(bytes), { defaults: true, arrays: true }) as DecodedSet;
  } catch (err) {
    // protobufjs says where decoding stopped ("index out of range: 12 + 10 > 16"); never the bytes.
    const why = err instanceof RangeError && /call stack/i.test(err.message) ? 'nested too deeply' : (err as Error).message.slice(0, 120);
    return { problem: `is not a protobuf descriptor set (${why}) — ${REBUILD}` };
  }
  if (set.file.length === 0) return { problem: `holds no .proto files, so it is not a descriptor set — ${REBUILD}` };
  const built = new Set<string>();
  for (const f of set.file) {
    if (f.name === '') return { problem: `is not a protobuf descriptor set (a file without a name) — ${REBUILD}` };
    if (built.has(f.name)) return { problem: `holds ${JSON.stringify(f.name)} twice — ${REBUILD}` };
    // Envoy builds the files in order: each one's imports must come before it (protoc's order).
    const missing = f.dependency.find((d) => !built.has(d));
    if (missing !== undefined) return { problem: `${JSON.stringify(f.name)} imports ${JSON.stringify(missing)}, which is not in the set before it — ${REBUILD} (--include_imports adds the imports)` };
    built.add(f.name);
  }
  const services = new Map<string, boolean>();
  for (const f of set.file) {
    for (const s of f.service) services.set(f.package ? `${f.package}.${s.name}` : s.name, s.method.some((m) => m.options?.http !== undefined && m.options.http.length > 0));
  }
  return { services };
}

/** Why `service` cannot be transcoded with this set, or undefined when it can. */
export function serviceProblem(info: DescriptorSetInfo, service: string, where: string): string | undefined {
  const annotated = info.services.get(service);
  if (annotated === undefined) {
    const names = [...info.services.keys()];
    const near = closest(service, names);
    const has = names.length === 0 ? 'it declares no service' : `it declares ${names.slice(0, 10).join(', ')}${names.length > 10 ? ', …' : ''}`;
    return `service "${service}" is not in ${where} (${has})${near ? `; did you mean "${near}"?` : ''}`;
  }
  if (!annotated) return `no method of service "${service}" has a google.api.http option, so no JSON call maps to it — annotate its methods (option (google.api.http) = {get: "/v1/..."}) and rebuild the descriptor set`;
  return undefined;
}
