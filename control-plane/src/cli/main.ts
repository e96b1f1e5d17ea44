// xds-ambassador: serve | bootstrap | validate | render.
// Each command's modules are loaded only when it runs: `serve` is a long-lived process whose memory
// should hold only what serving needs.
import { parseFlags, UsageError } from './args.ts';

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

const VALIDATE_HELP = `xds-ambassador validate PATH...

Reads manifest files or folders as serve would and prints every error with its file, ConfigMap,
key, YAML path and line. Exits 0 when all is valid, 1 when there is an error.
`;

interface Command { help: string; run(args: string[]): number | Promise<number> }

const COMMANDS: Record<string, () => Promise<Command>> = {
  serve: async () => {
    const m = await import('./serve-command.ts');
    return { help: m.SERVE_HELP, run: m.serveCommand };
  },
  bootstrap: async () => {
    const m = await import('./bootstrap-command.ts');
    return { help: m.BOOTSTRAP_HELP, run: m.bootstrapCommand };
  },
  validate: async () => ({ help: VALIDATE_HELP, run: validate }),
  render: async () => {
    const m = await import('./render-command.ts');
    return { help: m.RENDER_HELP, run: m.renderCommand };
  },
};

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(USAGE);
    return command === undefined ? 2 : 0;
  }
  const load = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
  if (load === undefined) throw new UsageError(`unknown command "${command}"; expected serve, bootstrap, validate or render`);
  const { help, run } = await load();
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(help);
    return 0;
  }
  return run(rest);
}

async function validate(args: string[]): Promise<number> {
  const { positionals } = parseFlags(args, {}, true);
  if (positionals.length === 0) throw new UsageError('validate needs at least one file or folder');
  const { validatePaths, validationReport } = await import('../admin/validate.ts');
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
