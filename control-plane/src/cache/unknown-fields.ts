// protobufjs silently drops fields it does not know; a typo in a translator must fail loudly instead.
import protobuf from 'protobufjs';
import { messageType } from './type-lookup.ts';

/** The first field path in obj that the message type does not define, or undefined. */
export function unknownField(root: protobuf.Root, type: protobuf.Type, obj: unknown, at = ''): string | undefined {
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) return undefined;
  const record = obj as Record<string, unknown>;
  let target = type;
  if (type === messageType(root, 'google.protobuf.Any') && typeof record['@type'] === 'string') {
    const name = record['@type'];
    target = messageType(root, name.slice(name.lastIndexOf('/') + 1));
  }
  for (const [key, value] of Object.entries(record)) {
    if (key === '@type' && target !== type) continue;
    const field = target.fields[key];
    if (!field) return `${at}${key} (not a field of ${target.fullName.slice(1)})`;
    const sub = field.resolvedType;
    if (!(sub instanceof protobuf.Type)) continue;
    const values = field.repeated && Array.isArray(value) ? value : field.map && value && typeof value === 'object' ? Object.values(value) : [value];
    for (const v of values) {
      const found = unknownField(root, sub, v, `${at}${key}.`);
      if (found) return found;
    }
  }
  return undefined;
}
