// A gRPC service definition with messages as plain objects, from a protobufjs Root: what
// @grpc/proto-loader builds (encode(fromObject(o)), toObject(decode(bytes), options)), without
// loading proto-loader and its own protobufjs (about 1.5 MB at idle) to read a file again.
import type * as grpc from '@grpc/grpc-js';
import type protobuf from 'protobufjs';

export function serviceDefinition(root: protobuf.Root, service: string, options: protobuf.IConversionOptions): grpc.ServiceDefinition {
  const message = (name: string) => {
    const type = root.lookupType(name);
    return {
      serialize: (o: object): Buffer => {
        const bytes = type.encode(type.fromObject(o)).finish();
        return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      },
      deserialize: (b: Buffer): object => type.toObject(type.decode(b), options),
    };
  };
  return Object.fromEntries(root.lookupService(service).methodsArray.map((m) => {
    m.resolve();
    const req = message(m.resolvedRequestType?.fullName ?? m.requestType);
    const res = message(m.resolvedResponseType?.fullName ?? m.responseType);
    return [m.name, {
      path: `/${service}/${m.name}`,
      requestStream: m.requestStream === true,
      responseStream: m.responseStream === true,
      requestSerialize: req.serialize, requestDeserialize: req.deserialize,
      responseSerialize: res.serialize, responseDeserialize: res.deserialize,
    }];
  }));
}
