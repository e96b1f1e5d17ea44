// What server reflection serves, made from protobufjs roots (Root.toDescriptor): one synthetic file
// per package, which protoreflect-based clients such as grpcurl cannot use as is:
// - a map field's entry message is named "Field" instead of protoc's "FieldEntry";
// - the files list no dependencies, so a client cannot resolve types from other packages.
// This rewrites those descriptors: entries renamed, type references fully qualified, and each
// file's dependencies derived from the types it references, protobufjs' extension mirrors dropped,
// and proto2 files marked as such. (@grpc/proto-loader's own protobufjs 7 also made message ranges
// end-inclusive; protobufjs 8, used here, makes them end-exclusive as they should be.)
import type { PackageDefinition } from '@grpc/proto-loader';
import type protobuf from 'protobufjs';
import descriptor from 'protobufjs/ext/descriptor.js';
import type { IDescriptorProto, IFieldDescriptorProto, IFileDescriptorProto } from 'protobufjs/ext/descriptor.js';

const { FileDescriptorProto } = descriptor;

interface DescribedRoot {
  toDescriptor(syntax: string): { file: IFileDescriptorProto[] };
}

/** The files of a root's packages. */
function rootDescriptors(root: protobuf.Root): IFileDescriptorProto[] {
  return (root as unknown as DescribedRoot).toDescriptor('proto3').file;
}

/** For ReflectionService: the given roots' files, the first of each name kept (put the root with
 * the most complete google.protobuf first). */
export function reflectionDefinition(roots: readonly protobuf.Root[]): PackageDefinition {
  const files = new Map<string, IFileDescriptorProto>();
  for (const root of roots) {
    for (const f of rootDescriptors(root)) if (f.name && !files.has(f.name)) files.set(f.name, f);
  }
  // Fully qualified symbol (".pkg.Msg.Nested") → the file that defines it.
  const owner = new Map<string, string>();
  for (const [name, f] of files) {
    const add = (prefix: string, messages: IDescriptorProto[] | null | undefined) => {
      for (const m of messages ?? []) {
        const fqn = `${prefix}.${m.name}`;
        owner.set(fqn, name);
        for (const e of m.enumType ?? []) owner.set(`${fqn}.${e.name}`, name);
        add(fqn, m.nestedType);
      }
    };
    const pkg = f.package ? `.${f.package}` : '';
    add(pkg, f.messageType);
    for (const e of f.enumType ?? []) owner.set(`${pkg}.${e.name}`, name);
  }
  const encoded = new Map<string, Buffer>();
  for (const [name, f] of files) {
    const deps = new Set<string>();
    const resolve = (scope: string, typeName: string): string => {
      if (typeName.startsWith('.')) return typeName;
      for (let s = scope; ; s = s.slice(0, s.lastIndexOf('.'))) {
        const candidate = `${s}.${typeName}`;
        if (owner.has(candidate)) return candidate;
        if (s === '') return typeName;
      }
    };
    const reference = (scope: string, typeName: string): string => {
      const fqn = resolve(scope, typeName);
      const dep = owner.get(fqn);
      if (dep && dep !== name) deps.add(dep);
      return fqn;
    };
    const fields = (scope: string, list: IFieldDescriptorProto[] | null | undefined) => {
      for (const field of list ?? []) {
        if (field.typeName) field.typeName = reference(scope, field.typeName);
        if (field.extendee) field.extendee = reference(scope, field.extendee);
      }
    };
    const visit = (scope: string, messages: IDescriptorProto[] | null | undefined) => {
      for (const m of messages ?? []) {
        const here = `${scope}.${m.name}`;
        // protobufjs mirrors every extension into the extended message (e.g. FileOptions) under its
        // dotted name; the extension is declared in its own file, and the mirror makes import cycles.
        m.field = (m.field ?? []).filter((field) => !field.name?.startsWith('.'));
        renameMapEntries(m);
        fields(here, m.field);
        fields(here, m.extension);
        visit(here, m.nestedType);
      }
    };
    const pkg = f.package ? `.${f.package}` : '';
    visit(pkg, f.messageType);
    fields(pkg, f.extension);
    for (const s of f.service ?? []) {
      for (const method of s.method ?? []) {
        for (const key of ['inputType', 'outputType'] as const) {
          const t = method[key];
          if (!t) continue;
          method[key] = reference(pkg, t);
        }
      }
    }
    f.dependency = [...deps].sort();
    // protobufjs calls every synthetic file proto3, even google.protobuf's descriptor.proto with its
    // proto2 defaults and required fields, which clients then refuse.
    if (usesProto2(f.messageType)) f.syntax = 'proto2';
    encoded.set(name, Buffer.from(FileDescriptorProto.encode(f).finish()));
  }
  // ReflectionService reads only each entry's files: one entry (of the simplest shape) carries them all.
  return { descriptors: { format: 'Protocol Buffer 3 EnumDescriptorProto', type: {}, fileDescriptorProtos: [...encoded.values()] } };
}

function renameMapEntries(m: IDescriptorProto): void {
  for (const f of m.field ?? []) {
    const entry = (m.nestedType ?? []).find((n: IDescriptorProto) => n.options?.mapEntry && n.name === f.typeName);
    if (!entry || !f.name) continue;
    const name = `${f.name.replace(/(?:^|_)([a-z0-9])/g, (_s: string, c: string) => c.toUpperCase())}Entry`;
    entry.name = name;
    f.typeName = name;
  }
}

function usesProto2(messages: IDescriptorProto[] | null | undefined): boolean {
  return (messages ?? []).some((m) =>
    (m.field ?? []).some((f) => (f.defaultValue ?? '') !== '' || f.label === 2) || usesProto2(m.nestedType));
}
