// grpc.health.v1.Health (Check, Watch, List), as grpc-health-check serves it, on the protobufjs the
// rest of the server uses: grpc-health-check loads its proto at import through its own
// @grpc/proto-loader and protobufjs 7, some 2 MB of idle memory for three small messages. Only its
// proto file is used.
import { createRequire } from 'node:module';
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { serviceDefinition } from './service-definition.ts';

export type ServingStatus = 'SERVING' | 'NOT_SERVING';

const SERVICE = 'grpc.health.v1.Health';
const LIST_LIMIT = 100;

/** A Root with grpc.health.v1 alone (for the service and for server reflection). */
export function healthRoot(): protobuf.Root {
  const root = new protobuf.Root();
  root.loadSync(createRequire(import.meta.url).resolve('grpc-health-check/proto/health/v1/health.proto'));
  return root;
}

export class HealthService {
  readonly #statuses = new Map<string, ServingStatus>();
  readonly #watchers = new Map<string, Set<(status: ServingStatus) => void>>();
  readonly root = healthRoot();

  constructor(initial: Record<string, ServingStatus>) {
    for (const [service, status] of Object.entries(initial)) this.#statuses.set(service, status);
  }

  setStatus(service: string, status: ServingStatus): void {
    this.#statuses.set(service, status);
    for (const watcher of this.#watchers.get(service) ?? []) watcher(status);
  }

  addToServer(server: grpc.Server): void {
    const definition = serviceDefinition(this.root, SERVICE, { enums: String, defaults: true });
    server.addService(definition, {
      Check: (call: grpc.ServerUnaryCall<{ service: string }, object>, callback: grpc.sendUnaryData<object>) => {
        const status = this.#statuses.get(call.request.service);
        if (status) callback(null, { status });
        else callback({ code: grpc.status.NOT_FOUND, details: `Health status unknown for service ${call.request.service}` });
      },
      Watch: (call: grpc.ServerWritableStream<{ service: string }, object>) => {
        const service = call.request.service;
        const watcher = (status: ServingStatus) => call.write({ status });
        let set = this.#watchers.get(service);
        if (!set) this.#watchers.set(service, (set = new Set()));
        set.add(watcher);
        call.on('cancelled', () => {
          set.delete(watcher);
          if (set.size === 0 && this.#watchers.get(service) === set) this.#watchers.delete(service);
        });
        call.write({ status: this.#statuses.get(service) ?? 'SERVICE_UNKNOWN' });
      },
      List: (_call: grpc.ServerUnaryCall<object, object>, callback: grpc.sendUnaryData<object>) => {
        if (this.#statuses.size > LIST_LIMIT) {
          callback({ code: grpc.status.RESOURCE_EXHAUSTED, details: 'Too many services to list.' });
          return;
        }
        callback(null, { statuses: Object.fromEntries([...this.#statuses].map(([s, status]) => [s, { status }])) });
      },
    });
  }
}
