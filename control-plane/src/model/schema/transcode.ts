// HTTP/JSON → gRPC transcoding on a route: Envoy's grpc_json_transcoder, with the services' protobuf
// descriptor set (FileDescriptorSet, `protoc --include_imports --descriptor_set_out`) read from a
// binaryData key of the ConfigMap itself. (kubectl create configmap --from-file puts a file there
// unless it is valid UTF-8, which a set with google.api.http options never is: the option's
// field tag starts with a UTF-8 continuation byte.)
import { z } from 'zod';
import { strict } from './common.ts';

// Kubernetes' ConfigMap key syntax.
const configMapKey = z.string().max(253).regex(/^[-._a-zA-Z0-9]+$/, { error: 'expected a binaryData key: letters, digits, "-", "_" and "."' });
// A fully-qualified protobuf service name: package.Service (the package may be empty).
const serviceName = z.string().max(512).regex(/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/, { error: 'expected a fully-qualified gRPC service name such as "shop.catalog.v1.Movies" (package, then service)' });

export const transcode = strict({
  /** Where the descriptor set is: a key of this ConfigMap's binaryData. */
  descriptors: strict({ key: configMapKey }),
  /** The services JSON calls are mapped to, by their google.api.http options. */
  services: z.array(serviceName).min(1, { error: 'expected at least one service such as "shop.catalog.v1.Movies"' }),
});
