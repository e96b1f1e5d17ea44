// What translation produces: Envoy resources as plain JSON-like objects, with their cross-references.
import type { TypeUrl } from '../xds/type-urls.ts';

export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export interface XdsResource {
  type: TypeUrl;
  name: string;
  /** The resource in protobuf JSON-object form (snake_case fields, `@type` on Any). */
  body: JsonObject;
  /** Names this resource needs to exist: clusters (by routes/listeners), route configs (by listeners)
   * and SDS secrets (by clusters and listeners). */
  refs: { clusters: string[]; routes: string[]; secrets: string[] };
  /** For an EDS cluster: the ClusterLoadAssignment name it waits for. */
  edsName?: string;
}
