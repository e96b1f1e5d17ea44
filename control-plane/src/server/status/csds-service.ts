// envoy.service.status.v3.ClientStatusDiscoveryService: what every connected Envoy has, from the
// client status registry. One ClientConfig per xDS stream whose node matches the request's
// node_matchers (any of them; none: every stream), with one GenericXdsConfig per resource:
//   version_info   the resource's version last sent (its content hash)
//   xds_config     that resource (never a Secret's: SDS resources are listed by name and version)
//   client_status  ACKED, NACKED (error_state: Envoy's message, the rejected response's version),
//                  or REQUESTED (sent, not answered yet)
//   config_status  SYNCED, ERROR or STALE (the management server's view of the same)
// FetchClientStatus answers once; StreamClientStatus answers each request on the stream.
import * as grpc from '@grpc/grpc-js';
import type protobuf from 'protobufjs';
import { toStruct } from '../../xds/struct.ts';
import type { NodeInfo } from '../node.ts';
import type { ClientStatusRegistry, ClientView, ResourceStatus, ResourceView } from './client-status.ts';
import { compileNodeMatchers, MatcherError, type NodeMatcherMessage } from './node-matcher.ts';

const CSDS_SERVICE_NAME = 'envoy.service.status.v3.ClientStatusDiscoveryService';

const identity = (b: Buffer): Buffer => b;
const toBuffer = (b: Uint8Array): Buffer => Buffer.from(b.buffer, b.byteOffset, b.byteLength);

export const CSDS_SERVICE: grpc.ServiceDefinition = {
  StreamClientStatus: {
    path: `/${CSDS_SERVICE_NAME}/StreamClientStatus`,
    requestStream: true, responseStream: true,
    requestSerialize: toBuffer, requestDeserialize: identity, responseSerialize: toBuffer, responseDeserialize: identity,
  },
  FetchClientStatus: {
    path: `/${CSDS_SERVICE_NAME}/FetchClientStatus`,
    requestStream: false, responseStream: false,
    requestSerialize: toBuffer, requestDeserialize: identity, responseSerialize: toBuffer, responseDeserialize: identity,
  },
};

const CLIENT_STATUS: Record<ResourceStatus, string> = { REQUESTED: 'REQUESTED', ACKED: 'ACKED', NACKED: 'NACKED' };
const CONFIG_STATUS: Record<ResourceStatus, string> = { REQUESTED: 'STALE', ACKED: 'SYNCED', NACKED: 'ERROR' };

interface ClientStatusRequest {
  node_matchers?: NodeMatcherMessage[];
  exclude_resource_contents?: boolean;
}

class BadRequest extends Error {}

export function csdsImplementation(root: protobuf.Root, registry: ClientStatusRegistry): grpc.UntypedServiceImplementation {
  const requestType = root.lookupType('envoy.service.status.v3.ClientStatusRequest');
  const responseType = root.lookupType('envoy.service.status.v3.ClientStatusResponse');
  const anyType = root.lookupType('google.protobuf.Any');

  const answer = (bytes: Buffer): Uint8Array => {
    let req: ClientStatusRequest;
    try {
      req = requestType.toObject(requestType.decode(bytes), { defaults: false, longs: Number, enums: String }) as ClientStatusRequest;
    } catch (e) {
      throw new BadRequest(`cannot decode ClientStatusRequest: ${(e as Error).message}`);
    }
    let matches;
    try {
      matches = compileNodeMatchers(req.node_matchers ?? []);
    } catch (e) {
      if (e instanceof MatcherError) throw new BadRequest(e.message);
      throw e;
    }
    const contents = req.exclude_resource_contents !== true;
    const config = registry.clients().filter((c) => matches(c.node)).map((c) => clientConfig(c, contents));
    return responseType.encode(responseType.fromObject({ config })).finish();
  };

  const clientConfig = (c: ClientView, contents: boolean) => ({
    node: nodeMessage(c.node),
    generic_xds_configs: c.resources.map((r) => genericXdsConfig(r, contents)),
  });

  const genericXdsConfig = (r: ResourceView, contents: boolean) => ({
    type_url: r.typeUrl,
    name: r.name,
    version_info: r.version,
    ...(contents && r.any && r.status !== 'NACKED' ? { xds_config: anyType.decode(r.any) } : {}),
    last_updated: timestamp(r.updatedAt),
    config_status: CONFIG_STATUS[r.status],
    client_status: CLIENT_STATUS[r.status],
    ...(r.error ? {
      error_state: {
        ...(contents && r.any ? { failed_configuration: anyType.decode(r.any) } : {}),
        last_update_attempt: timestamp(r.error.at),
        details: r.error.message,
        version_info: r.error.responseVersion,
      },
    } : {}),
  });

  const failure = (e: unknown) => e instanceof BadRequest
    ? { code: grpc.status.INVALID_ARGUMENT, details: e.message }
    : { code: grpc.status.INTERNAL, details: `CSDS failed: ${(e as Error).message}` };

  return {
    FetchClientStatus: ((call, callback) => {
      try {
        callback(null, answer(call.request));
      } catch (e) {
        callback(failure(e));
      }
    }) satisfies grpc.handleUnaryCall<Buffer, Uint8Array>,
    StreamClientStatus: ((call) => {
      call.on('data', (bytes: Buffer) => {
        try {
          call.write(answer(bytes));
        } catch (e) {
          call.emit('error', Object.assign(new Error('CSDS request failed'), failure(e)));
        }
      });
      call.on('end', () => call.end());
    }) satisfies grpc.handleBidiStreamingCall<Buffer, Uint8Array>,
  };
}

function timestamp(d: Date) {
  const ms = d.getTime();
  return { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1_000_000 };
}

/** The node as the Envoy sent it (the parts the server keeps). */
function nodeMessage(n: NodeInfo) {
  const slash = n.userAgent.indexOf('/');
  return {
    id: n.id,
    cluster: n.cluster,
    metadata: toStruct(n.metadata),
    ...(n.userAgent === '' ? {} : slash === -1 ? { user_agent_name: n.userAgent } : { user_agent_name: n.userAgent.slice(0, slash), user_agent_version: n.userAgent.slice(slash + 1) }),
  };
}
