// Credentials for an authenticated xDS port on loopback (the demo, the recipes and the tests): the
// control plane's certificate and, per sidecar identity, a client certificate whose URI SAN is
// spiffe://cluster.local/ns/NAMESPACE/sa/SERVICE_ACCOUNT. Each lives in a folder of its own with
// Kubernetes Secret file names (tls.crt, tls.key), and rotate*() swaps new files in atomically, as
// the kubelet does for a mounted Secret. Never for production use.
import { mkdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { XdsClientAuth } from '../cli/bootstrap.ts';
import { makePki, type CertFiles, type Pki } from './pki.ts';

export const TRUST_DOMAIN = 'cluster.local';

export interface KeyPairFiles {
  dir: string;
  certFile: string;
  keyFile: string;
}

export interface XdsCredentials {
  /** The PKI everything is issued from (tests make odd certificates with it). */
  pki: Pki;
  /** The CA of the server and every client certificate. */
  caFile: string;
  server: KeyPairFiles;
  /** `serve` flags for this server certificate and client CA. */
  serveArgs(): string[];
  /** The client certificate of an identity (made on first use). */
  client(namespace: string, serviceAccount: string): Promise<KeyPairFiles>;
  /** Bootstrap auth of an Envoy with that identity; its SDS files go into `sdsDir`. */
  clientAuth(namespace: string, serviceAccount: string, sdsDir: string): Promise<Extract<XdsClientAuth, { kind: 'certificate' }>>;
  /** New certificate files (same CA, same names) swapped in for the server or one identity. */
  rotateServer(): Promise<void>;
  rotateClient(namespace: string, serviceAccount: string): Promise<void>;
  cleanup(): Promise<void>;
}

const SERVER_NAMES = ['localhost', '127.0.0.1', '::1'];

export function spiffeId(namespace: string, serviceAccount: string): string {
  return `spiffe://${TRUST_DOMAIN}/ns/${namespace}/sa/${serviceAccount}`;
}

export async function makeXdsCredentials(dir?: string): Promise<XdsCredentials> {
  const pki: Pki = await makePki(dir);
  const place = async (folder: string, files: CertFiles): Promise<KeyPairFiles> => {
    await mkdir(folder, { recursive: true });
    const pair = { dir: folder, certFile: path.join(folder, 'tls.crt'), keyFile: path.join(folder, 'tls.key') };
    // Both new files first, then the renames: a reader sees the old pair or the new one, or for an
    // instant a mix, which the readers on both sides wait out (they check the pair matches).
    await Promise.all([writeFile(`${pair.certFile}.new`, files.cert), writeFile(`${pair.keyFile}.new`, files.key, { mode: 0o600 })]);
    await rename(`${pair.keyFile}.new`, pair.keyFile);
    await rename(`${pair.certFile}.new`, pair.certFile);
    return pair;
  };
  const server = await place(path.join(pki.dir, 'xds-server'), await pki.server(SERVER_NAMES));
  const clients = new Map<string, Promise<KeyPairFiles>>();
  const clientDir = (ns: string, sa: string) => path.join(pki.dir, 'xds-clients', `${ns}.${sa}`);
  const issue = async (ns: string, sa: string) => place(clientDir(ns, sa), await pki.client(`${ns}/${sa}`, { uris: [spiffeId(ns, sa)] }));
  const client = (ns: string, sa: string): Promise<KeyPairFiles> => {
    const key = `${ns}/${sa}`;
    let c = clients.get(key);
    if (!c) clients.set(key, (c = issue(ns, sa)));
    return c;
  };
  return {
    pki,
    caFile: pki.ca.certPath,
    server,
    serveArgs: () => ['--tls-cert', server.certFile, '--tls-key', server.keyFile, '--client-ca', pki.ca.certPath],
    client,
    async clientAuth(ns, sa, sdsDir) {
      const c = await client(ns, sa);
      return { kind: 'certificate', certFile: c.certFile, keyFile: c.keyFile, caFile: pki.ca.certPath, sdsDir };
    },
    async rotateServer() {
      await place(server.dir, await pki.server(SERVER_NAMES));
    },
    async rotateClient(ns, sa) {
      await client(ns, sa);
      await issue(ns, sa);
    },
    cleanup: () => pki.cleanup(),
  };
}
