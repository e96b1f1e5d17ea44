// Each resource is protobuf-encoded once per content; the bytes are then shared by every stream.
import { createHash } from 'node:crypto';
import protobuf from 'protobufjs';
import type { XdsResource } from '../translate/types.ts';
import { typeName } from '../xds/type-urls.ts';
import { messageType } from './type-lookup.ts';
import { unknownField } from './unknown-fields.ts';

export interface EncodedResource extends XdsResource {
  /** The resource wrapped in a google.protobuf.Any, ready to be spliced into a DiscoveryResponse. */
  any: Uint8Array;
  /** Content hash of the encoded resource. */
  hash: string;
}

export function contentHash(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex').slice(0, 16);
}

export function encodeResource(root: protobuf.Root, r: XdsResource): EncodedResource {
  const type = messageType(root, typeName(r.type));
  const unknown = unknownField(root, type, r.body);
  if (unknown) throw new Error(`cannot encode ${typeName(r.type)} "${r.name}": unknown field ${unknown}`);
  const value = type.encode(type.fromObject(r.body)).finish();
  // google.protobuf.Any: field 1 type_url (string), field 2 value (bytes).
  const any = protobuf.Writer.create().uint32(10).string(r.type).uint32(18).bytes(value).finish();
  return { ...r, any, hash: contentHash(value) };
}
