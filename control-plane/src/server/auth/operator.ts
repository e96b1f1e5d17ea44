// Who may call the operator services (CSDS and the admin API): they show every Envoy of every
// namespace and run dry runs, so an Envoy's identity does not open them. A call is authenticated
// exactly as an xDS stream is (the client certificate, or the bearer token), and then allowed only
// for the identities named by `serve --operator NAMESPACE/SERVICE_ACCOUNT` (default
// xds-system/operator). With --insecure there are no identities: only callers on this machine
// (a loopback peer address) are answered, like /debug/ on the HTTP port.
import * as grpc from '@grpc/grpc-js';
import { isLoopback } from '../../observe/loopback.ts';
import type { Authenticate } from './authenticator.ts';
import { REFUSAL_STATUS } from './refusal-status.ts';

export const DEFAULT_OPERATORS = ['xds-system/operator'] as const;

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const SA_NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

/** Why "NAMESPACE/SERVICE_ACCOUNT" is not an identity, or undefined when it is one. */
export function operatorIdentityProblem(s: string): string | undefined {
  const [ns = '', sa = '', ...rest] = s.split('/');
  if (rest.length > 0 || !DNS_LABEL.test(ns) || !SA_NAME.test(sa)) return `expected NAMESPACE/SERVICE_ACCOUNT such as xds-system/operator, found ${JSON.stringify(s)}`;
  return undefined;
}

export interface OperatorCall {
  metadata: grpc.Metadata;
  getPeer(): string;
  getAuthContext(): ReturnType<grpc.ServerUnaryCall<unknown, unknown>['getAuthContext']>;
}

export type OperatorVerdict = { ok: true; who: string } | { ok: false; code: grpc.status; details: string };

export type OperatorCheck = (call: OperatorCall) => Promise<OperatorVerdict>;


export function operatorCheck(authenticate: Authenticate, insecure: boolean, operators: readonly string[]): OperatorCheck {
  const allowed = new Set(operators);
  const list = operators.length > 0 ? operators.join(', ') : 'none';
  return async (call) => {
    if (insecure) {
      const peer = call.getPeer().replace(/:\d+$/, '');
      return isLoopback(peer)
        ? { ok: true, who: `${peer} (--insecure, loopback)` }
        : { ok: false, code: grpc.status.PERMISSION_DENIED, details: 'with --insecure, CSDS and the admin API answer callers on this machine (loopback) only' };
    }
    const authorization = call.metadata.get('authorization')[0];
    const cert = call.getAuthContext().sslPeerCertificate;
    const result = await authenticate({
      ...(typeof authorization === 'string' ? { authorization } : {}),
      ...(cert && Object.keys(cert).length > 0 ? { peerCertificate: cert } : {}),
    }).catch((e: unknown) => ({ ok: false as const, reason: 'authenticator_unavailable' as const, message: `authentication failed: ${(e as Error).message}` }));
    if (!result.ok) return { ok: false, code: REFUSAL_STATUS[result.reason], details: result.message };
    const who = `${result.identity.namespace}/${result.identity.serviceAccount}`;
    if (allowed.has(who)) return { ok: true, who: `${who} (${result.identity.method})` };
    return { ok: false, code: grpc.status.PERMISSION_DENIED, details: `${who} is not an operator: CSDS and the admin API answer the identities of serve --operator only (${list})` };
  };
}

/** The service's handlers, each answering only after `check` allows the call. Unary and
 * bidirectional methods (what CSDS and the admin API have); a stream's messages wait meanwhile. */
export function guarded(definition: grpc.ServiceDefinition, impl: grpc.UntypedServiceImplementation, check: OperatorCheck): grpc.UntypedServiceImplementation {
  const out: grpc.UntypedServiceImplementation = {};
  for (const [name, method] of Object.entries(definition)) {
    const handler = impl[name];
    if (!handler) continue;
    if (!method.requestStream && !method.responseStream) {
      const unary = handler as grpc.handleUnaryCall<unknown, unknown>;
      out[name] = ((call, callback) => {
        void check(call).then((v) => (v.ok ? unary(call, callback) : callback({ code: v.code, details: v.details })));
      }) satisfies grpc.handleUnaryCall<unknown, unknown>;
    } else if (method.requestStream && method.responseStream) {
      const bidi = handler as grpc.handleBidiStreamingCall<unknown, unknown>;
      out[name] = ((call) => {
        void check(call).then((v) => {
          if (v.ok) bidi(call);
          else call.emit('error', Object.assign(new Error(v.details), { code: v.code, details: v.details }));
        });
      }) satisfies grpc.handleBidiStreamingCall<unknown, unknown>;
    } else {
      throw new Error(`operator method ${name}: only unary and bidirectional streaming methods are guarded`);
    }
  }
  return out;
}
