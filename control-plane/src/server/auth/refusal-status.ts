// The gRPC status a refused call ends with, by why it was refused.
import * as grpc from '@grpc/grpc-js';
import type { RefusalReason } from './identity.ts';

export const REFUSAL_STATUS: Readonly<Record<RefusalReason, grpc.status>> = {
  no_credentials: grpc.status.UNAUTHENTICATED,
  invalid_credentials: grpc.status.UNAUTHENTICATED,
  authenticator_unavailable: grpc.status.UNAVAILABLE,
  namespace_mismatch: grpc.status.PERMISSION_DENIED,
  node_id_mismatch: grpc.status.PERMISSION_DENIED,
  not_allowed: grpc.status.PERMISSION_DENIED,
  bad_node: grpc.status.INVALID_ARGUMENT,
};
