// The contract between a source (directory, Kubernetes) and the rest of the pipeline.
// Sources know nothing of Envoy: they only report the ConfigMaps and Secrets they see.

export interface ObjectMeta {
  namespace: string;
  name: string;
  labels: Readonly<Record<string, string>>;
  /** Where the object came from, for error messages: a file path (with document index) or "kubernetes". */
  origin: string;
  /** The API server's id of the object, where the source has one (Kubernetes). */
  uid?: string;
}

export interface ConfigMapObject extends ObjectMeta {
  kind: 'ConfigMap';
  /** Creation time (ms since the epoch) when the source knows it (Kubernetes' creationTimestamp):
   * at a fresh start, the oldest of two ConfigMaps claiming one ambassador gets it. */
  created?: number;
  data: Readonly<Record<string, string>>;
  /** Decoded binaryData values (e.g. a protobuf descriptor set); absent when it has none. */
  binaryData?: Readonly<Record<string, Uint8Array>>;
  /** Where it is in the manifest file it was read from (file sources), for errors' file lines. */
  file?: ManifestLines;
}

export interface ManifestLines {
  path: string;
  /** The line where the object starts. */
  line: number;
  /** Per data key, the line of its value's first line; `literal` for a `|` block, whose own line
   * n is then the file's line `line + n - 1`. */
  keys: Readonly<Record<string, { line: number; literal: boolean }>>;
}

export interface SecretObject extends ObjectMeta {
  kind: 'Secret';
  /** The Secret's `type`, e.g. "Opaque" or "kubernetes.io/tls". */
  type: string;
  /** Decoded values (`data` base64-decoded, merged with `stringData`). */
  data: Readonly<Record<string, Uint8Array>>;
}

export type SourceObject = ConfigMapObject | SecretObject;

/** A problem that kept a source from reading some input; that input's last good objects stay. */
export interface SourceProblem {
  /** The file (or API object) that could not be read. */
  origin: string;
  message: string;
}

export interface SourceState {
  /** Every object currently known, keyed by objectKey(). */
  objects: ReadonlyMap<string, SourceObject>;
  problems: readonly SourceProblem[];
  /** False while some of it is still being read (a ConfigMap watch not listed yet): nothing is
   * served to Envoys before a complete state. Absent means complete. */
  complete?: boolean;
  /** For a source that reads Secrets on demand (want()): the Secrets ("namespace/name") it has read,
   * found or not. A config that references any other is not built until it is read: "not read yet"
   * is never reported, nor served, as "not found". Absent means every Secret has been read. */
  secretsRead?: ReadonlySet<string>;
}

export interface Source {
  /** Reads everything once, calls onChange with the first complete state, then keeps watching. */
  start(onChange: (state: SourceState) => void): Promise<void>;
  /** The Secrets ("namespace/name") the configs reference, for a source that fetches them on
   * demand: it emits again once each is read (see SourceState.secretsRead). */
  want?(secrets: ReadonlySet<string>): void;
  stop(): Promise<void>;
}

export function objectKey(o: Pick<SourceObject, 'kind' | 'namespace' | 'name'>): string {
  return `${o.kind}/${o.namespace}/${o.name}`;
}
