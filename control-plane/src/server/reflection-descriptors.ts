// @grpc/proto-loader hands reflection one synthetic file per package, built by protobufjs, which
// protoreflect-based clients such as grpcurl cannot use as is:
// - a map field's entry message is named "Field" instead of protoc's "FieldEntry";
// - the files list no dependencies, so a client cannot resolve types from other packages.
// This rewrites those descriptors: entries renamed, type references fully qualified, and each
// file's dependencies derived from the types it references, protobufjs' extension mirrors dropped,
// message ranges made end-exclusive, and proto2 files marked as such.
import type { PackageDefinition } from '@grpc/proto-loader';
import descriptor from 'protobufjs/ext/descriptor.js';
import type { IDescriptorProto, IFieldDescriptorProto, IFileDescriptorProto } from 'protobufjs/ext/descriptor.js';

const { FileDescriptorProto } = descriptor;

export function reflectableDescriptors(def: PackageDefinition): PackageDefinition {
  const files = new Map<string, IFileDescriptorProto>();
  for (const value of Object.values(def)) {
    if (!('fileDescriptorProtos' in value) || !Array.isArray(value.fileDescriptorProtos)) continue;
    for (const bin of value.fileDescriptorProtos as Buffer[]) {
      const f = FileDescriptorProto.decode(bin) as IFileDescriptorProto;
      if (f.name && !files.has(f.name)) files.set(f.name, f);
    }
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
        // protobufjs keeps ranges inclusive; a message's descriptor ranges end exclusively.
        for (const r of [...(m.extensionRange ?? []), ...(m.reservedRange ?? [])]) if (typeof r.end === 'number') r.end += 1;
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
  const all = [...encoded.values()];
  const result: PackageDefinition = {};
  for (const [name, value] of Object.entries(def)) {
    result[name] = 'fileDescriptorProtos' in value ? { ...value, fileDescriptorProtos: all } as typeof value : value;
  }
  return result;
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
