// A demo / test HTTPS upstream: answers like upstream.ts (200 JSON naming the upstream and echoing
// the request, injectable failures and latency), and adds what the TLS handshake of the request's
// connection carried, both to the recorded request and to the JSON answer:
//   {"upstream": "tmdb", "path": "/", "method": "GET", "headers": {...},
//    "tls": {"servername": "api.test", "alpn": "http/1.1", "clientCert": true, "clientCn": "orders", "version": "TLSv1.3"}}
// so a test can see which SNI the ambassador sent and which client certificate it presented.
//
// With `ca` set it requires a client certificate signed by that CA (mutual TLS): a client without
// one, or with one from another CA, fails the handshake (recorded in `tlsErrors`).
import { createServer } from 'node:https';
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { serveUpstream } from './upstream.ts';
import type { StartUpstreamOptions, Upstream, UpstreamRequest } from './upstream.ts';

export interface TlsDetails {
  /** The SNI server name the client sent; null when it sent none. */
  servername: string | null;
  /** The ALPN protocol agreed on; null when none was (the client offered no ALPN). */
  alpn: string | null;
  /** Whether the client presented a certificate (only asked for when `ca` is set). */
  clientCert: boolean;
  /** The subject CN of that certificate. */
  clientCn: string | null;
  /** The TLS version, e.g. "TLSv1.3". */
  version: string | null;
}

export interface TlsUpstreamRequest extends UpstreamRequest {
  tls: TlsDetails;
}

export interface StartTlsUpstreamOptions extends StartUpstreamOptions {
  /** PEM certificate (chain) the server presents, whatever SNI the client sends. */
  cert: string;
  /** PEM private key of `cert`. */
  key: string;
  /** PEM CA certificate(s). When set, a client certificate signed by one of them is required. */
  ca?: string;
  /** ALPN protocols the server accepts. Default ["http/1.1"] (it only speaks HTTP/1.1). */
  alpn?: string[];
}

export interface TlsUpstream extends Upstream<TlsUpstreamRequest> {
  /** Handshakes that failed (client refused our certificate, no or a wrong client certificate, ...),
   * as Node's error messages, oldest first. Cleared by reset(). */
  readonly tlsErrors: string[];
  /** Number of TLS connections established since start (or reset()). */
  readonly handshakes: number;
}

function describeTls(req: IncomingMessage): { tls: TlsDetails } {
  const socket = req.socket as TLSSocket;
  const peer = socket.getPeerCertificate();
  const clientCert = peer !== null && peer !== undefined && Object.keys(peer).length > 0;
  let clientCn: string | null = null;
  if (clientCert) {
    // A multi-valued field is an array (Node >= 20).
    const cn: unknown = peer.subject?.CN;
    if (typeof cn === 'string') clientCn = cn;
    else if (Array.isArray(cn) && typeof cn[0] === 'string') clientCn = cn[0];
  }
  return {
    tls: {
      servername: typeof socket.servername === 'string' && socket.servername !== '' ? socket.servername : null,
      alpn: typeof socket.alpnProtocol === 'string' ? socket.alpnProtocol : null,
      clientCert,
      clientCn,
      version: socket.getProtocol(),
    },
  };
}

export async function startTlsUpstream(options: StartTlsUpstreamOptions): Promise<TlsUpstream> {
  const mutual = options.ca !== undefined;
  const server = createServer({
    cert: options.cert,
    key: options.key,
    ALPNProtocols: options.alpn ?? ['http/1.1'],
    ...(mutual ? { ca: options.ca, requestCert: true, rejectUnauthorized: true } : {}),
  });
  const tlsErrors: string[] = [];
  let handshakes = 0;
  server.on('tlsClientError', (error: Error, socket: TLSSocket) => {
    // A client certificate that fails verification completes the TLS handshake and is then cut by
    // Node ("socket hang up"); the reason is on the socket (a code such as
    // UNABLE_TO_GET_ISSUER_CERT_LOCALLY, typed as an Error but a string at run time).
    const reason: unknown = socket.authorizationError;
    tlsErrors.push(reason ? `client certificate rejected: ${String(reason)}` : error.message.trim());
  });
  server.on('secureConnection', () => {
    handshakes += 1;
  });
  const upstream = await serveUpstream(server, options, describeTls);
  return {
    get name() {
      return upstream.name;
    },
    get port() {
      return upstream.port;
    },
    get host() {
      return upstream.host;
    },
    get requests() {
      return upstream.requests;
    },
    tlsErrors,
    get handshakes() {
      return handshakes;
    },
    setBehaviour: (behaviour) => upstream.setBehaviour(behaviour),
    reset(): void {
      upstream.reset();
      tlsErrors.length = 0;
      handshakes = 0;
    },
    close: () => upstream.close(),
  };
}
