// xds-ambassador: serve | bootstrap | validate | render.
import { parseFlags, UsageError } from './args.ts';
import { BOOTSTRAP_HELP, bootstrapCommand } from './bootstrap-command.ts';
import { RENDER_HELP, renderCommand } from './render-command.ts';
import { SERVE_HELP, serveCommand } from './serve-command.ts';
import { validatePaths, validationReport } from '../admin/validate.ts';

const USAGE = `xds-ambassador — an xDS control plane for Envoy ambassador sidecars

Usage:
  xds-ambassador serve (--config-dir DIR | --kubernetes [--kubeconfig PATH] [--namespace NS]...) (--tls-cert F --tls-key F [--client-ca F] | --insecure) [options]
  xds-ambassador bootstrap --node-id ID --ambassador NAME (--xds-token-file F | --xds-client-cert F --xds-client-key F --output-dir D | --insecure) --xds-ca F [options]
  xds-ambassador validate PATH...
  xds-ambassador render PATH... --ambassador NAME [--namespace NS] [--environment ENV] [--format yaml|json]
  xds-ambassador COMMAND --help

Commands:
  serve      Serve ADS (gRPC) to Envoys from ConfigMaps and Secrets (a folder of manifests, or a Kubernetes API server), hot-reloading edits.
  bootstrap  Print the Envoy bootstrap (YAML) for an ambassador sidecar.
  validate   Check manifest files or folders; print every error; exit 1 if there is any.
  render     Print the Envoy resources a node would receive for manifest files or folders (a dry run).
`;

const HELP: Record<string, string> = {
  serve: SERVE_HELP,
  bootstrap: BOOTSTRAP_HELP,
  validate: `xds-ambassador validate PATH...

Reads manifest files or folders as serve would and prints every error with its file, ConfigMap,
key, YAML path and line. Exits 0 when all is valid, 1 when there is an error.
`,
  render: RENDER_HELP,
};

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(USAGE);
    return command === undefined ? 2 : 0;
  }
  const help = HELP[command];
  if (help === undefined) throw new UsageError(`unknown command "${command}"; expected serve, bootstrap, validate or render`);
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(help);
    return 0;
  }
  if (command === 'bootstrap') return bootstrapCommand(rest);
  if (command === 'validate') return validate(rest);
  if (command === 'render') return renderCommand(rest);
  return serveCommand(rest);
}

async function validate(args: string[]): Promise<number> {
  const { positionals } = parseFlags(args, {}, true);
  if (positionals.length === 0) throw new UsageError('validate needs at least one file or folder');
  const result = await validatePaths(positionals);
  process.stdout.write(validationReport(result));
  return result.errors.length > 0 ? 1 : 0;
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
