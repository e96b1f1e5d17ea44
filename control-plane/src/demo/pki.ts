// A throwaway PKI made with the openssl CLI (scripts/setup.sh installs it), for the recipes and the
// tests: a CA, leaf certificates it signs (server: DNS/IP SANs + serverAuth; client: CN +
// clientAuth), and a second, unrelated CA for "wrong CA" tests. Never for production use.
//
//   const pki = await makePki();                       // afterAll(() => pki.cleanup())
//   const server = await pki.server(['api.test', 'localhost']);
//   const client = await pki.client('orders-ambassador');
//   server.cert / server.key / pki.ca.cert             // PEM strings
//   server.certPath / server.keyPath / pki.ca.certPath // the same, as files
//
// Keys are EC P-256 (PKCS#8 PEM, unencrypted), signatures SHA-256, validity VALIDITY_DAYS.
// Every call runs one or two short openssl processes (a few ms each).
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const VALIDITY_DAYS = 3;

export interface CertFiles {
  /** PEM certificate. */
  cert: string;
  /** PEM private key (PKCS#8, unencrypted). */
  key: string;
  certPath: string;
  keyPath: string;
}

export interface LeafOptions {
  /** Which CA signs it. Default 'ca'. */
  issuer?: 'ca' | 'otherCa';
  /** URI SANs, e.g. a SPIFFE identity (client certificates). */
  uris?: readonly string[];
}

export interface Pki {
  /** The folder holding every file. */
  readonly dir: string;
  /** The CA the tests trust. */
  readonly ca: CertFiles;
  /** An unrelated CA: trusting it instead of `ca` must make verification fail. */
  readonly otherCa: CertFiles;
  /** A server certificate with these SANs (the first one is also the CN). A name that is an IP
   * address becomes an IP SAN, anything else a DNS SAN (wildcards such as `*.test` allowed). */
  server(names: readonly string[], options?: LeafOptions): Promise<CertFiles>;
  /** A client certificate with subject CN `cn` (and the URI SANs of `options.uris`, if any). */
  client(cn: string, options?: LeafOptions): Promise<CertFiles>;
  /** Removes the folder (only when makePki created it). */
  cleanup(): Promise<void>;
}

function openssl(args: readonly string[], cwd: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('openssl', args, { cwd, timeout: 10_000 }, (error, _stdout, stderr) => {
      if (error) {
        const hint = (error as NodeJS.ErrnoException).code === 'ENOENT' ? ' (openssl is not on PATH: run scripts/setup.sh)' : '';
        reject(new Error(`openssl ${args.join(' ')} failed${hint}: ${error.message}\n${stderr}`));
      } else {
        resolve();
      }
    });
  });
}

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

function randomSerial(): string {
  // Positive (top bit clear) and at most 20 octets, as RFC 5280 asks.
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] ?? 0) & 0x7f;
  return `0x${bytes.toString('hex')}`;
}

/** A subject field value for openssl's `-subj` (which treats `/` and `\` specially). */
function subjectValue(value: string): string {
  return value.replace(/[\\/]/g, (c) => `\\${c}`);
}

async function readPair(dir: string, base: string): Promise<CertFiles> {
  const certPath = join(dir, `${base}.crt`);
  const keyPath = join(dir, `${base}.key`);
  const [cert, key] = await Promise.all([readFile(certPath, 'utf8'), readFile(keyPath, 'utf8')]);
  return { cert, key, certPath, keyPath };
}

async function makeCa(dir: string, base: string, cn: string): Promise<CertFiles> {
  await openssl(
    [
      'req', '-x509', ...EC_KEY, '-sha256', '-days', String(VALIDITY_DAYS),
      '-keyout', `${base}.key`, '-out', `${base}.crt`,
      '-set_serial', randomSerial(),
      '-subj', `/O=xds-ambassador tests/CN=${subjectValue(cn)}`,
      '-addext', 'basicConstraints=critical,CA:TRUE,pathlen:0',
      '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
      '-addext', 'subjectKeyIdentifier=hash',
    ],
    dir,
  );
  return readPair(dir, base);
}

export async function makePki(dir?: string): Promise<Pki> {
  const owned = dir === undefined;
  const root = dir ?? (await mkdtemp(join(tmpdir(), 'xds-pki-')));
  if (!owned) await mkdir(root, { recursive: true });
  let counter = 0;

  const [ca, otherCa] = await Promise.all([
    makeCa(root, 'ca', 'xds-ambassador test CA'),
    makeCa(root, 'other-ca', 'unrelated test CA'),
  ]);

  const leaf = async (kind: 'server' | 'client', cn: string, extensions: string[], options?: LeafOptions): Promise<CertFiles> => {
    const issuer = options?.issuer === 'otherCa' ? 'other-ca' : 'ca';
    counter += 1;
    const base = `${kind}-${counter}`;
    const extPath = `${base}.ext`;
    await writeFile(
      join(root, extPath),
      [
        'basicConstraints=critical,CA:FALSE',
        'keyUsage=critical,digitalSignature',
        'subjectKeyIdentifier=hash',
        'authorityKeyIdentifier=keyid',
        ...extensions,
        '',
      ].join('\n'),
    );
    await openssl(
      ['req', '-new', ...EC_KEY, '-keyout', `${base}.key`, '-out', `${base}.csr`, '-subj', `/O=xds-ambassador tests/CN=${subjectValue(cn)}`],
      root,
    );
    await openssl(
      [
        'x509', '-req', '-in', `${base}.csr`, '-sha256', '-days', String(VALIDITY_DAYS),
        '-CA', `${issuer}.crt`, '-CAkey', `${issuer}.key`, '-set_serial', randomSerial(),
        '-extfile', extPath, '-out', `${base}.crt`,
      ],
      root,
    );
    return readPair(root, base);
  };

  return {
    dir: root,
    ca,
    otherCa,
    server(names: readonly string[], options?: LeafOptions): Promise<CertFiles> {
      const first = names[0];
      if (first === undefined) return Promise.reject(new Error('pki.server: give at least one name'));
      for (const name of names) {
        if (!/^[A-Za-z0-9*.:_-]+$/.test(name)) return Promise.reject(new Error(`pki.server: unsupported name ${JSON.stringify(name)}`));
      }
      const sans = names.map((name) => (isIP(name) ? `IP:${name}` : `DNS:${name}`)).join(',');
      return leaf('server', first, ['extendedKeyUsage=serverAuth', `subjectAltName=${sans}`], options);
    },
    client(cn: string, options?: LeafOptions): Promise<CertFiles> {
      for (const uri of options?.uris ?? []) {
        if (!/^[A-Za-z][A-Za-z0-9+.-]*:[^\s,]+$/.test(uri)) return Promise.reject(new Error(`pki.client: unsupported URI ${JSON.stringify(uri)}`));
      }
      const sans = options?.uris?.length ? [`subjectAltName=${options.uris.map((u) => `URI:${u}`).join(',')}`] : [];
      return leaf('client', cn, ['extendedKeyUsage=clientAuth', ...sans], options);
    },
    async cleanup(): Promise<void> {
      if (owned) await rm(root, { recursive: true, force: true });
    },
  };
}
