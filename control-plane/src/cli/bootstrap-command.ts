// `bootstrap`: flags → an Envoy bootstrap on stdout, or files in --output-dir.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { parseFlags, portFlag, requireFlag, UsageError } from './args.ts';
import { buildBootstrap, sdsFiles, type XdsClientAuth } from './bootstrap.ts';

export const BOOTSTRAP_HELP = `xds-ambassador bootstrap --node-id ID --ambassador NAME --xds-ca F (--xds-token-file F | --xds-client-cert F --xds-client-key F) --output-dir D [options]
xds-ambassador bootstrap --node-id ID --ambassador NAME --insecure [options]

Writes an Envoy bootstrap that makes Envoy fetch everything from the control plane over ADS,
verifying the control plane's TLS certificate and proving the sidecar's identity: DIR/envoy.yaml,
and the DIR/*.sds.json files Envoy reads the CA and the token or certificate through (watching
their folders, so rotated files are used by the next connection). With --insecure and no
--output-dir, prints the bootstrap.

Options:
  --node-id ID            node.id, unique per Envoy (in Kubernetes: the Pod name) (required)
  --ambassador NAME       node.cluster: the "ambassador:" name in the ConfigMap that configures it (required)
  --namespace NS          node.metadata.namespace: only ConfigMaps of this namespace apply (default "default")
  --environment ENV       node.metadata.environment: applies the config's environments.ENV overrides (default: none)
  --xds-address H:P       the control plane's xDS address (default 127.0.0.1:18000)
  --admin-port N          Envoy admin port, bound to 127.0.0.1 (default 9901)
  --ready-port N          also a listener on every address that answers only GET /ready (from the
                          admin port), for a kubelet readiness probe (default: none)
  --xds-ca FILE           CA certificate that signs the control plane's certificate (required unless --insecure)
  --xds-server-name NAME  name the control plane's certificate must carry (default: the host of --xds-address)
  --xds-token-file FILE   prove the identity with this token file (a projected ServiceAccount token with
                          the control plane's audience), sent as authorization: Bearer
  --xds-client-cert FILE  prove the identity with this client certificate (URI SAN
  --xds-client-key FILE     spiffe://TRUST_DOMAIN/ns/NAMESPACE/sa/NAME)
  --output-dir DIR        where envoy.yaml and the SDS files go (required unless --insecure)
  --insecure              plaintext, no identity: only for a control plane started with --insecure
  --delta                 incremental xDS (Delta ADS): a change sends only the resources that changed,
                          and a reconnecting Envoy is not sent again what it already has
`;

export function bootstrapCommand(args: string[]): number {
  const { values } = parseFlags(args, {
    'node-id': { type: 'string' },
    ambassador: { type: 'string' },
    namespace: { type: 'string', default: 'default' },
    environment: { type: 'string' },
    'xds-address': { type: 'string', default: '127.0.0.1:18000' },
    'admin-port': { type: 'string' },
    'ready-port': { type: 'string' },
    'xds-ca': { type: 'string' },
    'xds-server-name': { type: 'string' },
    'xds-token-file': { type: 'string' },
    'xds-client-cert': { type: 'string' },
    'xds-client-key': { type: 'string' },
    'output-dir': { type: 'string' },
    insecure: { type: 'boolean', default: false },
    delta: { type: 'boolean', default: false },
  });
  const nodeId = requireFlag('node-id', values['node-id']);
  const ambassador = requireFlag('ambassador', values.ambassador);
  const outDir = values['output-dir'];
  const auth = clientAuth(values, outDir);
  if (values['ready-port'] !== undefined && values['ready-port'] === (values['admin-port'] ?? '9901')) {
    throw new UsageError('--ready-port must differ from --admin-port: the ready listener proxies to the admin port');
  }
  const doc = buildBootstrap({
    nodeId,
    ambassador,
    namespace: values.namespace,
    ...(values.environment !== undefined ? { environment: environmentFlag(values.environment) } : {}),
    xdsAddress: values['xds-address'],
    adminPort: portFlag('admin-port', values['admin-port'], 9901),
    ...(values['ready-port'] !== undefined ? { readyPort: portFlag('ready-port', values['ready-port'], 0) } : {}),
    auth,
    delta: values.delta,
  });
  const yaml = stringify(doc, { aliasDuplicateObjects: false });
  if (outDir === undefined) {
    process.stdout.write(yaml);
    return 0;
  }
  mkdirSync(outDir, { recursive: true });
  writeFileSync(path.join(outDir, 'envoy.yaml'), yaml);
  const written = [path.join(outDir, 'envoy.yaml')];
  if (auth.kind !== 'insecure') {
    for (const [file, doc] of sdsFiles(auth)) {
      writeFileSync(file, `${JSON.stringify(doc, null, 2)}\n`);
      written.push(file);
    }
  }
  process.stderr.write(`wrote ${written.join(', ')}\n`);
  return 0;
}

type Values = Partial<Record<'xds-ca' | 'xds-server-name' | 'xds-token-file' | 'xds-client-cert' | 'xds-client-key', string>> & { insecure: boolean };

function clientAuth(v: Values, outDir: string | undefined): XdsClientAuth {
  const token = v['xds-token-file'];
  const cert = v['xds-client-cert'];
  const key = v['xds-client-key'];
  const modes = [v.insecure, token !== undefined, cert !== undefined || key !== undefined].filter(Boolean).length;
  if (modes !== 1) {
    throw new UsageError('choose how the sidecar proves its identity: --xds-token-file FILE (Kubernetes ServiceAccount token), --xds-client-cert FILE with --xds-client-key FILE, or --insecure (plaintext, for a control plane started with --insecure)');
  }
  if (v.insecure) {
    if (v['xds-ca'] !== undefined || v['xds-server-name'] !== undefined) throw new UsageError('--insecure is plaintext: drop --xds-ca and --xds-server-name');
    return { kind: 'insecure' };
  }
  const caFile = requireFlag('xds-ca', v['xds-ca']);
  const serverName = v['xds-server-name'] === undefined ? {} : { serverName: v['xds-server-name'] };
  if (token === undefined && (cert === undefined || key === undefined)) throw new UsageError('--xds-client-cert and --xds-client-key go together');
  if (outDir === undefined) throw new UsageError('--output-dir DIR is needed: Envoy reads the CA and the token or certificate through file-based SDS configs written there, which is what lets rotated files apply without a restart');
  const tls = { caFile, ...serverName, sdsDir: path.resolve(outDir) };
  return token !== undefined ? { kind: 'token', tokenFile: token, ...tls } : { kind: 'certificate', certFile: cert as string, keyFile: key as string, ...tls };
}

function environmentFlag(value: string): string {
  if (!/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(value)) throw new UsageError(`--environment: expected a name of lowercase letters, digits and "-" (as in the config's environments:), found ${JSON.stringify(value)}`);
  return value;
}
