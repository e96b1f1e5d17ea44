// Server reflection (grpc.reflection.v1 and v1alpha) whose descriptors are made on the first call:
// described, Envoy's API takes some 20 MB and @grpc/reflection its own protobufjs, which a control
// plane that nobody points grpcurl at should not carry. Until then, the services are registered with
// pass-through (de)serializers; the first call loads @grpc/reflection and hands it each message.
import { EventEmitter } from 'node:events';
import * as grpc from '@grpc/grpc-js';
import type protobuf from 'protobufjs';
import { reflectionDefinition } from './reflection-descriptors.ts';

const VERSIONS = ['v1', 'v1alpha'] as const;
const METHOD = 'ServerReflectionInfo';
const path = (version: string) => `/grpc.reflection.${version}.ServerReflection/${METHOD}`;

interface Loaded { definition: grpc.MethodDefinition<unknown, unknown>; handler: grpc.handleBidiStreamingCall<unknown, unknown> }

/** Adds the reflection services to `server`; `roots` (called once, on the first reflection call)
 * gives the roots to describe, the one with the most complete google.protobuf first. */
export function addLazyReflection(server: Pick<grpc.Server, 'addService'>, roots: () => readonly protobuf.Root[]): void {
  let loading: Promise<Map<string, Loaded>> | undefined;
  const load = () => loading ??= (async () => {
    const { ReflectionService } = await import('@grpc/reflection');
    const loaded = new Map<string, Loaded>();
    new ReflectionService(reflectionDefinition(roots())).addToServer({
      addService: (service: grpc.ServiceDefinition, implementation: grpc.UntypedServiceImplementation) => {
        const definition = service[METHOD] as grpc.MethodDefinition<unknown, unknown>;
        loaded.set(definition.path, { definition, handler: implementation[METHOD] as grpc.handleBidiStreamingCall<unknown, unknown> });
      },
    });
    return loaded;
  })();
  const raw = (b: Buffer) => b;
  for (const version of VERSIONS) {
    const definition: grpc.MethodDefinition<Buffer, Buffer> = {
      path: path(version), requestStream: true, responseStream: true,
      requestSerialize: raw, requestDeserialize: raw, responseSerialize: raw, responseDeserialize: raw,
    };
    const handler: grpc.handleBidiStreamingCall<Buffer, Buffer> = (call) => {
      // No 'data' listener yet: the call stays paused (its messages wait) until the service is loaded.
      load().then((loaded) => {
        const real = loaded.get(definition.path);
        if (!real) throw new Error(`@grpc/reflection registered no ${definition.path}`);
        // @grpc/reflection's handler uses on('data'), on('end'), write(message) and end().
        const decoded = Object.assign(new EventEmitter(), {
          write: (message: unknown) => call.write(real.definition.responseSerialize(message)),
          end: () => call.end(),
        });
        real.handler(decoded as unknown as grpc.ServerDuplexStream<unknown, unknown>);
        call.on('data', (b: Buffer) => decoded.emit('data', real.definition.requestDeserialize(b)));
        call.on('end', () => decoded.emit('end'));
      }).catch((e: unknown) => {
        call.emit('error', { code: grpc.status.INTERNAL, details: `server reflection is unavailable: ${e instanceof Error ? e.message : String(e)}` });
      });
    };
    server.addService({ [METHOD]: definition } as grpc.ServiceDefinition, { [METHOD]: handler } as grpc.UntypedServiceImplementation);
  }
}
