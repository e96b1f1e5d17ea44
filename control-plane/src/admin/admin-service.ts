// xds_ambassador.admin.v1.AdminService (protos/xds_ambassador/admin/v1/admin.proto), loaded from
// the repository's protos/ folder: ListAmbassadors from the running control plane's state; Render
// and Validate as dry runs in a worker thread (DryRunner), with the same code as the CLI.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import type { OperatorService } from '../server/grpc-server.ts';
import { serviceDefinition } from '../server/service-definition.ts';
import { toStruct } from '../xds/struct.ts';
import type { AmbassadorEntry } from './ambassadors.ts';
import { DryRunError, type DryRunner } from './dry-runner.ts';
import type { ManifestInput } from './manifest-set.ts';
import { validationReport } from './validate.ts';

const ADMIN_PROTOS_DIR = fileURLToPath(new URL('../../../protos/', import.meta.url));
const ADMIN_PROTO = 'xds_ambassador/admin/v1/admin.proto';
const ADMIN_SERVICE_NAME = 'xds_ambassador.admin.v1.AdminService';

export interface AdminState {
  ambassadors(): AmbassadorEntry[];
}

interface ManifestMessage { path: string; content: string }
interface RenderRequest { manifests: ManifestMessage[]; node: { namespace: string; ambassador: string; environment: string } | null }
interface ValidateRequest { manifests: ManifestMessage[] }

export function adminService(state: AdminState, runner: DryRunner): OperatorService {
  // One reading of the file, for the service (messages as @grpc/proto-loader would give them) and
  // for reflection.
  const protos = new protobuf.Root();
  protos.loadSync(path.join(ADMIN_PROTOS_DIR, ADMIN_PROTO), { keepCase: true });
  const definition = serviceDefinition(protos, ADMIN_SERVICE_NAME, { longs: String, enums: String, defaults: true, oneofs: true });
  const inputs = (manifests: readonly ManifestMessage[]): ManifestInput[] => manifests.map((m, i) => ({ path: m.path || `manifests[${i}]`, content: m.content }));
  const fail = (callback: grpc.sendUnaryData<unknown>, e: unknown) => {
    if (e instanceof DryRunError) {
      const code = { deadline: grpc.status.DEADLINE_EXCEEDED, busy: grpc.status.RESOURCE_EXHAUSTED, stopping: grpc.status.UNAVAILABLE, failed: grpc.status.INTERNAL }[e.reason];
      return callback({ code, details: e.message });
    }
    callback({ code: grpc.status.INTERNAL, details: (e as Error).message });
  };
  const implementation: grpc.UntypedServiceImplementation = {
    ListAmbassadors: ((_call, callback) => {
      callback(null, {
        ambassadors: state.ambassadors().map((a) => ({
          ...a,
          envoys: a.envoys.map((e) => ({ ...e, connected_at: timestamp(e.connected_at) })),
        })),
      });
    }) satisfies grpc.handleUnaryCall<unknown, unknown>,
    Render: ((call, callback) => {
      const node = call.request.node;
      runner.render(inputs(call.request.manifests), { ambassador: node?.ambassador ?? '', ...(node?.namespace ? { namespace: node.namespace } : {}), ...(node?.environment ? { environment: node.environment } : {}) })
        .then((r) => {
          if (!r.ok) return callback({ code: grpc.status.INVALID_ARGUMENT, details: r.errors.join('\n') });
          const x = r.rendered;
          callback(null, {
            group: x.group,
            config_map: x.configMap,
            version: x.version,
            service_accounts: x.serviceAccounts,
            resources: x.resources.map((res) => ({ type_url: res.typeUrl, name: res.name, version: res.version, ...(res.resource ? { resource: toStruct(res.resource) } : {}) })),
            errors: x.errors,
          });
        }, (e: unknown) => fail(callback, e));
    }) satisfies grpc.handleUnaryCall<RenderRequest, unknown>,
    Validate: ((call, callback) => {
      runner.validate(inputs(call.request.manifests))
        .then((r) => callback(null, { errors: r.errors, ambassadors: r.ambassadors, report: validationReport(r) }), (e: unknown) => fail(callback, e));
    }) satisfies grpc.handleUnaryCall<ValidateRequest, unknown>,
  };
  return { definition, implementation, protos };
}

function timestamp(d: Date) {
  const ms = d.getTime();
  return { seconds: String(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1_000_000 };
}
