// Ends a call whose client has stopped reading. grpc-js sends a call's status only after its
// pending data has been flushed, which never happens then: the call, its unread response and the
// HTTP/2 stream would stay in memory. Resetting the stream (RST_STREAM ENHANCE_YOUR_CALM, which
// gRPC clients report as RESOURCE_EXHAUSTED) drops all three. grpc-js keeps the HTTP/2 stream
// private, so it is looked up defensively; without it the caller falls back to a graceful end.
import http2 from 'node:http2';
import type * as grpc from '@grpc/grpc-js';

interface Http2StreamLike { close(code: number): void; closed: boolean }

function isHttp2Stream(v: unknown): v is Http2StreamLike {
  return typeof v === 'object' && v !== null && 'session' in v && typeof (v as { close?: unknown }).close === 'function' && 'closed' in v;
}

export function resetStalledCall(call: grpc.ServerDuplexStream<unknown, unknown>): boolean {
  // ServerDuplexStream.call is the interceptor chain; its innermost link holds the HTTP/2 stream.
  let link: unknown = (call as unknown as { call?: unknown }).call;
  for (let depth = 0; depth < 8 && typeof link === 'object' && link !== null; depth++) {
    const stream = (link as { stream?: unknown }).stream;
    if (isHttp2Stream(stream)) {
      if (!stream.closed) stream.close(http2.constants.NGHTTP2_ENHANCE_YOUR_CALM);
      return true;
    }
    link = (link as { nextCall?: unknown }).nextCall;
  }
  return false;
}
