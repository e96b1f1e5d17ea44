// A Root's message types by name, looked up once: protobufjs walks its namespaces for every lookup
// (and builds a type's full name on every read of it), and each resource encoded needs its type
// and those of the google.protobuf.Any values inside it.
import type protobuf from 'protobufjs';

const cached = new WeakMap<protobuf.Root, Map<string, protobuf.Type>>();

/** The message type `name` (with or without its leading dot); throws for an unknown one. */
export function messageType(root: protobuf.Root, name: string): protobuf.Type {
  let types = cached.get(root);
  if (!types) cached.set(root, (types = new Map()));
  let type = types.get(name);
  if (!type) types.set(name, (type = root.lookupType(name)));
  return type;
}
