// gRPC server credentials over CertificateFiles: a rotated certificate applies to new connections
// (setSecureContext), and streams already open keep theirs, so a rotation drops nothing.
import * as grpc from '@grpc/grpc-js';
import type { CertificateFiles, LoadedCertificates } from '../tls/certificate-files.ts';

export interface TlsServerOptions {
  files: CertificateFiles;
  /** Ask for a client certificate chained to the files' CA, and refuse a connection without one. */
  requireClientCertificate: boolean;
  /** A connection that has not finished its TLS handshake by then is closed. */
  handshakeTimeoutMs: number;
}

class ReloadingServerCredentials extends grpc.ServerCredentials {
  readonly #files: CertificateFiles;
  readonly #mutual: boolean;
  #unsubscribe: (() => void) | undefined;

  constructor(o: TlsServerOptions) {
    super({
      requestCert: o.requireClientCertificate,
      rejectUnauthorized: o.requireClientCertificate,
      handshakeTimeout: o.handshakeTimeoutMs,
      minVersion: 'TLSv1.2',
    }, contextOptions(o.files.current(), o.requireClientCertificate));
    this.#files = o.files;
    this.#mutual = o.requireClientCertificate;
  }

  override _addWatcher(watcher: Parameters<grpc.ServerCredentials['_addWatcher']>[0]): void {
    this.#unsubscribe ??= this.#files.onChange((c) => this.updateSecureContextOptions(contextOptions(c, this.#mutual)));
    super._addWatcher(watcher);
  }

  override _removeWatcher(watcher: Parameters<grpc.ServerCredentials['_removeWatcher']>[0]): void {
    super._removeWatcher(watcher);
    if (this.getWatcherCount() === 0) {
      this.#unsubscribe?.();
      this.#unsubscribe = undefined;
    }
  }

  _equals(other: grpc.ServerCredentials): boolean {
    return other === this;
  }
}

function contextOptions(c: LoadedCertificates, mutual: boolean) {
  return { cert: c.cert, key: c.key, ...(mutual && c.ca ? { ca: c.ca } : {}) };
}

export function tlsServerCredentials(o: TlsServerOptions): grpc.ServerCredentials {
  if (o.requireClientCertificate && !o.files.current().ca) throw new Error('mutual TLS needs the CA that client certificates chain to');
  return new ReloadingServerCredentials(o);
}
