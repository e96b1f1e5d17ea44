// HTTP/JSON → gRPC transcoding on a route: Envoy's grpc_json_transcoder, with the services' protobuf
// descriptor set (FileDescriptorSet, `protoc --include_imports --descriptor_set_out`) read from a
// key of the ConfigMap itself: binaryData, or data when kubectl stored the file as text (it does
// that for a file that happens to be valid UTF-8).
import { z } from 'zod';
import { strict } from './common.ts';

// Kubernetes' ConfigMap key syntax.
const configMapKey = z.string().max(253).regex(/^[-._a-zA-Z0-9]+$/, { error: 'expected a ConfigMap key: letters, digits, "-", "_" and "."' });
// A fully-qualified protobuf service name: package.Service (the package may be empty).
const serviceName = z.string().max(512).regex(/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/, { error: 'expected a fully-qualified gRPC service name such as "shop.catalog.v1.Movies" (package, then service)' });

export const transcode = strict({
  /** Where the descriptor set is: a key of this ConfigMap (binaryData, or data). */
  descriptors: strict({ key: configMapKey }),
  /** The services JSON calls are mapped to, by their google.api.http options. */
  services: z.array(serviceName).min(1, { error: 'expected at least one service such as "shop.catalog.v1.Movies"' }),
});
