import type { JsonObject } from './types.ts';

/** Every dynamic resource is fetched over the one ADS stream, API v3. */
export const ADS_SOURCE: JsonObject = { ads: {}, resource_api_version: 'V3' };
