// Encodes each group's resources, reusing the encoding of every resource whose content is the same
// as in the group's previous snapshot: a change re-encodes what it changed, not the whole group.
import { createHash } from 'node:crypto';
import type protobuf from 'protobufjs';
import type { XdsResource } from '../translate/types.ts';
import { encodeResource, type EncodedResource } from './encode.ts';

export class ResourceEncoder {
  readonly #root: protobuf.Root;
  /** Group → resource (type and name) → a digest of its content as last encoded, and the encoding. */
  readonly #groups = new Map<string, Map<string, { digest: string; encoded: EncodedResource }>>();

  constructor(root: protobuf.Root) {
    this.#root = root;
  }

  encode(group: string, resources: readonly XdsResource[]): EncodedResource[] {
    const previous = this.#groups.get(group);
    const next = new Map<string, { digest: string; encoded: EncodedResource }>();
    const out = resources.map((r) => {
      const id = `${r.type}\u0000${r.name}`;
      // The body is plain JSON made by pure translation: equal text, equal content.
      const digest = createHash('sha256').update(JSON.stringify(r.body)).digest('base64');
      const known = previous?.get(id);
      const encoded = known?.digest === digest ? { ...r, any: known.encoded.any, hash: known.encoded.hash } : encodeResource(this.#root, r);
      next.set(id, { digest, encoded });
      return encoded;
    });
    this.#groups.set(group, next);
    return out;
  }

  /** The group is gone: its next resources are all encoded anew. */
  forget(group: string): void {
    this.#groups.delete(group);
  }
}
