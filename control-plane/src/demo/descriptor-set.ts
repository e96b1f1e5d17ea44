// A protobuf descriptor set (FileDescriptorSet) made from one of this project's .proto files with
// protobufjs, for the demo gRPC service, its recipe and the tests: they need no protoc. What a user
// runs instead: protoc --include_imports --descriptor_set_out=movies.pb movies.proto.
//
// The set describes the file's messages and services, and keeps each method's google.api.http
// option (the rule the gRPC-JSON transcoder maps JSON calls with). It declares no import:
// google/api/annotations.proto only contributes those option values, which are encoded as the
// extension field they are, and Envoy builds the set as it is.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import descriptor from 'protobufjs/ext/descriptor.js';
import { protoIncludeDirs } from '../xds/protos.ts';

const PROTOS_DIR = fileURLToPath(new URL('../../../protos/', import.meta.url));
const MOVIES_PROTO = 'xds_ambassador/demo/v1/movies.proto';
export const MOVIES_SERVICE = 'xds_ambassador.demo.v1.Movies';

function loadRoot(file: string, keepCase: boolean): protobuf.Root {
  const dirs = [PROTOS_DIR, ...protoIncludeDirs()];
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => dirs.map((d) => path.join(d, target)).find((c) => existsSync(c)) ?? target;
  root.loadSync(file, { keepCase });
  root.resolveAll();
  return root;
}

/** The HTTP rule of a method (its parsed `option (google.api.http) = {...}`), if any. */
function httpRule(m: protobuf.Method): Record<string, unknown> | undefined {
  const parsed = (m.parsedOptions ?? []) as Record<string, unknown>[];
  return parsed.find((o) => '(google.api.http)' in o)?.['(google.api.http)'] as Record<string, unknown> | undefined;
}

let setType: protobuf.Type | undefined;
/** google.protobuf.FileDescriptorSet in protobufjs' camelCase form (what its descriptor extension
 * produces), whose method options know {'.google.api.http': {get: '/v1/...'}}. */
export function descriptorSetType(): protobuf.Type {
  setType ??= loadRoot('google/api/annotations.proto', false).lookupType('google.protobuf.FileDescriptorSet');
  return setType;
}

export function encodeDescriptorSet(set: { file: Record<string, unknown>[] }): Uint8Array {
  const type = descriptorSetType();
  return type.encode(type.fromObject(set)).finish();
}

/** The descriptor set of `file` (a path under protos/), encoded. */
export function buildDescriptorSet(file: string = MOVIES_PROTO): Uint8Array {
  // Field names as written (snake_case) in the descriptors.
  const source = loadRoot(file, true);
  const objects = flatten(source).filter((o) => o.filename !== null && path.resolve(o.filename) === path.resolve(PROTOS_DIR, file));
  const messageType: unknown[] = [];
  const enumType: unknown[] = [];
  const service: unknown[] = [];
  for (const o of objects) {
    if (o instanceof protobuf.Type) messageType.push(descriptor.DescriptorProto.toObject(o.toDescriptor('proto3')));
    else if (o instanceof protobuf.Enum) enumType.push(descriptor.EnumDescriptorProto.toObject(o.toDescriptor()));
    else if (o instanceof protobuf.Service) {
      const s = descriptor.ServiceDescriptorProto.toObject(o.toDescriptor()) as { method?: { name: string; options?: unknown }[] };
      for (const m of s.method ?? []) {
        const method = o.methods[m.name];
        const rule = method && httpRule(method);
        if (rule) m.options = { '.google.api.http': rule };
      }
      service.push(s);
    }
  }
  const pkg = objects[0]?.parent?.fullName.slice(1) ?? '';
  return encodeDescriptorSet({ file: [{ name: file, package: pkg, syntax: 'proto3', messageType, enumType, service }] });
}

/** The top-level messages, enums and services of every package in `ns`. */
function flatten(ns: protobuf.NamespaceBase): protobuf.ReflectionObject[] {
  return ns.nestedArray.flatMap((o) => (o instanceof protobuf.Type || o instanceof protobuf.Enum || o instanceof protobuf.Service ? [o] : o instanceof protobuf.Namespace ? flatten(o) : []));
}
