// xds-ambassador: serve | bootstrap | validate.
import { stringify } from 'yaml';
import { startControlPlane } from '../control-plane.ts';
import { createLogger } from '../observe/log.ts';
import { DirectorySource } from '../sources/directory.ts';
import { KubernetesSource } from '../sources/kubernetes.ts';
import { loadKubeConfig } from './kubeconfig.ts';
import { KubeEventRecorder } from '../observe/kube-events.ts';
import { parseFlags, portFlag, requireFlag, UsageError } from './args.ts';
import { buildBootstrap } from './bootstrap.ts';
import { validatePaths } from './validate.ts';
import { parseDurationMs } from '../model/duration.ts';

const USAGE = `xds-ambassador — an xDS control plane for Envoy ambassador sidecars

Usage:
  xds-ambassador serve (--config-dir DIR [--deletion-grace 2s] | --kubernetes [--kubeconfig PATH] [--namespace NS]...) [--xds-port 18000] [--http-port 19000] [--bind-address 0.0.0.0] [--log-level info]
  xds-ambassador bootstrap --node-id ID --ambassador NAME [--namespace default] [--environment ENV] [--xds-address 127.0.0.1:18000] [--admin-port 9901]
  xds-ambassador validate PATH...
  xds-ambassador COMMAND --help

Commands:
  serve      Serve ADS (gRPC) to Envoys from ConfigMaps and Secrets (a folder of manifests, or a Kubernetes API server), hot-reloading edits.
  bootstrap  Print the Envoy bootstrap (YAML) for an ambassador sidecar.
  validate   Check manifest files or folders; print every error; exit 1 if there is any.
`;

const HELP: Record<string, string> = {
  serve: `xds-ambassador serve (--config-dir DIR | --kubernetes) [options]

Serves Envoy configuration over ADS from the labelled ConfigMaps (and the Secrets they reference):
either every *.yaml / *.yml file in DIR (subfolders too), as you would kubectl apply them, or a
Kubernetes API server. Edits are picked up live.

Options:
  --config-dir DIR      folder of Kubernetes manifests
  --deletion-grace D    with --config-dir: an object gone from the folder is removed only if it
                        is still gone after this long (default 2s; 0s removes at once)
  --kubernetes          read ConfigMaps labelled xds-ambassador.io/config=true from the API server
  --kubeconfig PATH     with --kubernetes: this kubeconfig (default: $KUBECONFIG, ~/.kube/config,
                        or the Pod's service account when run in a cluster)
  --namespace NS        with --kubernetes: only this namespace (repeat for several; default: all)
  --xds-port N          gRPC port for ADS, health and reflection (default 18000; 0 picks a free one)
  --http-port N         HTTP port for /healthz, /readyz, /metrics, /debug/status (default 19000; 0 picks a free one)
  --bind-address IP     address both ports listen on (default 0.0.0.0)
  --log-level LEVEL     trace, debug, info, warn, error (default info, or $LOG_LEVEL)
`,
  bootstrap: `xds-ambassador bootstrap --node-id ID --ambassador NAME [options]

Prints an Envoy bootstrap (YAML) that makes Envoy fetch everything from the control plane over ADS.

Options:
  --node-id ID          node.id, unique per Envoy (in Kubernetes: the Pod name) (required)
  --ambassador NAME     node.cluster: the "ambassador:" name in the ConfigMap that configures it (required)
  --namespace NS        node.metadata.namespace: only ConfigMaps of this namespace apply (default "default")
  --environment ENV     node.metadata.environment: applies the config's environments.ENV overrides (default: none)
  --xds-address H:P     the control plane's xDS address (default 127.0.0.1:18000)
  --admin-port N        Envoy admin port, bound to 127.0.0.1 (default 9901)
`,
  validate: `xds-ambassador validate PATH...

Reads manifest files or folders as serve would and prints every error with its file, ConfigMap,
key, YAML path and line. Exits 0 when all is valid, 1 when there is an error.
`,
};

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(USAGE);
    return command === undefined ? 2 : 0;
  }
  const help = HELP[command];
  if (help === undefined) throw new UsageError(`unknown command "${command}"; expected serve, bootstrap or validate`);
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(help);
    return 0;
  }
  if (command === 'bootstrap') return bootstrap(rest);
  if (command === 'validate') return validate(rest);
  return serve(rest);
}

function environmentFlag(value: string): string {
  if (!/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(value)) throw new UsageError(`--environment: expected a name of lowercase letters, digits and "-" (as in the config's environments:), found ${JSON.stringify(value)}`);
  return value;
}

function durationFlag(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = parseDurationMs(value);
  if (ms === undefined) throw new UsageError(`--${name}: expected a duration such as "500ms", "2s" or "1m", found ${JSON.stringify(value)}`);
  return ms;
}

function bootstrap(args: string[]): number {
  const { values } = parseFlags(args, {
    'node-id': { type: 'string' },
    ambassador: { type: 'string' },
    namespace: { type: 'string', default: 'default' },
    environment: { type: 'string' },
    'xds-address': { type: 'string', default: '127.0.0.1:18000' },
    'admin-port': { type: 'string' },
  });
  const doc = buildBootstrap({
    nodeId: requireFlag('node-id', values['node-id']),
    ambassador: requireFlag('ambassador', values.ambassador),
    namespace: values.namespace,
    ...(values.environment !== undefined ? { environment: environmentFlag(values.environment) } : {}),
    xdsAddress: values['xds-address'],
    adminPort: portFlag('admin-port', values['admin-port'], 9901),
  });
  process.stdout.write(stringify(doc, { aliasDuplicateObjects: false }));
  return 0;
}

async function validate(args: string[]): Promise<number> {
  const { positionals } = parseFlags(args, {}, true);
  if (positionals.length === 0) throw new UsageError('validate needs at least one file or folder');
  const result = await validatePaths(positionals);
  for (const e of result.errors) process.stdout.write(`error: ${e}\n`);
  if (result.errors.length > 0) {
    process.stdout.write(`${result.errors.length} error${result.errors.length === 1 ? '' : 's'}\n`);
    return 1;
  }
  process.stdout.write(`ok: ${result.ambassadors.length} ambassador${result.ambassadors.length === 1 ? '' : 's'} (${result.ambassadors.join(', ') || 'none'})\n`);
  return 0;
}

async function serve(args: string[]): Promise<number> {
  const { values } = parseFlags(args, {
    'config-dir': { type: 'string' },
    'deletion-grace': { type: 'string' },
    kubernetes: { type: 'boolean', default: false },
    kubeconfig: { type: 'string' },
    namespace: { type: 'string', multiple: true, default: [] },
    'xds-port': { type: 'string' },
    'http-port': { type: 'string' },
    'bind-address': { type: 'string', default: '0.0.0.0' },
    'log-level': { type: 'string' },
  });
  if ((values['config-dir'] === undefined) === !values.kubernetes) {
    throw new UsageError('serve needs exactly one source: --config-dir DIR (manifests in a folder) or --kubernetes (an API server)');
  }
  if (!values.kubernetes && (values.kubeconfig !== undefined || values.namespace.length > 0)) {
    throw new UsageError('--kubeconfig and --namespace go with --kubernetes');
  }
  if (values.kubernetes && values['deletion-grace'] !== undefined) throw new UsageError('--deletion-grace goes with --config-dir');
  const deletionGraceMs = durationFlag('deletion-grace', values['deletion-grace']);
  const logger = createLogger(values['log-level']);
  const kubeConfig = values.kubernetes ? loadKubeConfig(values.kubeconfig) : undefined;
  const source = kubeConfig
    ? new KubernetesSource({ kubeConfig, namespaces: values.namespace, logger })
    : new DirectorySource({ dir: requireFlag('config-dir', values['config-dir']), logger, ...(deletionGraceMs === undefined ? {} : { deletionGraceMs }) });
  const cp = await startControlPlane({
    source,
    logger,
    ...(kubeConfig ? { status: new KubeEventRecorder(kubeConfig, logger) } : {}),
    bindAddress: values['bind-address'],
    xdsPort: portFlag('xds-port', values['xds-port'], 18000),
    httpPort: portFlag('http-port', values['http-port'], 19000),
  });
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      logger.info({ signal }, 'shutting down');
      resolve();
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  await cp.stop();
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (e: unknown) => {
    if (e instanceof UsageError) {
      process.stderr.write(`xds-ambassador: ${e.message}\nRun "xds-ambassador --help" for usage.\n`);
      process.exitCode = 2;
    } else {
      process.stderr.write(`xds-ambassador: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exitCode = 1;
    }
  },
);
