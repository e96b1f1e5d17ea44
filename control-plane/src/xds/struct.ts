// JSON-like values → google.protobuf.Struct, in the object form protobufjs (and so proto-loader)
// takes: its own Struct definition has camelCase fields (stringValue, …), even under keepCase.
export interface StructMessage { fields: Record<string, ValueMessage> }
export type ValueMessage =
  | { stringValue: string } | { numberValue: number } | { boolValue: boolean } | { nullValue: 'NULL_VALUE' }
  | { listValue: { values: ValueMessage[] } } | { structValue: StructMessage };

export function toStruct(o: Readonly<Record<string, unknown>>): StructMessage {
  return { fields: Object.fromEntries(Object.entries(o).map(([k, v]) => [k, toValue(v)])) };
}

function toValue(v: unknown): ValueMessage {
  if (typeof v === 'string') return { stringValue: v };
  if (typeof v === 'number') return { numberValue: v };
  if (typeof v === 'boolean') return { boolValue: v };
  if (Array.isArray(v)) return { listValue: { values: v.map(toValue) } };
  if (typeof v === 'object' && v !== null) return { structValue: toStruct(v as Record<string, unknown>) };
  return { nullValue: 'NULL_VALUE' };
}
