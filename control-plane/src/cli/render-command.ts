// `render PATH... --namespace NS --ambassador NAME`: the Envoy resources a node would receive for a
// folder of manifests, with the same code as the admin API's Render. Secrets by name and version only.
import { stringify } from 'yaml';
import { renderManifests, type Rendered } from '../admin/render.ts';
import { readManifestPaths } from '../admin/validate.ts';
import { SHORT_NAME, isTypeUrl } from '../xds/type-urls.ts';
import { xdsRoot } from '../xds/protos.ts';
import { parseFlags, requireFlag, UsageError } from './args.ts';

export const RENDER_HELP = `xds-ambassador render PATH... --ambassador NAME [--namespace NS] [--environment ENV] [--format yaml|json]

Prints the Envoy resources (clusters, endpoints, secrets, listeners, routes) that an Envoy of this
node would receive if serve read these manifest files or folders: a dry run, applied nowhere. A
Secret (SDS) is listed by name and version only, never its value. Errors go to stderr; the exit code
is 1 when there is any (the resources are still printed when the node has a config), 2 for a usage
error.

Options:
  --ambassador NAME    the node's ambassador (its bootstrap's --ambassador, node.cluster) (required)
  --namespace NS       the node's namespace (default "default")
  --environment ENV    the node's environment: the config's environments.ENV overrides apply
  --format F           yaml (default) or json
`;

export async function renderCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(args, {
    ambassador: { type: 'string' },
    namespace: { type: 'string', default: 'default' },
    environment: { type: 'string' },
    format: { type: 'string', default: 'yaml' },
  }, true);
  if (positionals.length === 0) throw new UsageError('render needs at least one file or folder of manifests');
  const format = values.format;
  if (format !== 'yaml' && format !== 'json') throw new UsageError(`--format: expected yaml or json, found ${JSON.stringify(format)}`);
  const node = { ambassador: requireFlag('ambassador', values.ambassador), namespace: values.namespace, ...(values.environment ? { environment: values.environment } : {}) };
  const result = renderManifests(await xdsRoot(), await readManifestPaths(positionals), node);
  const errors = result.ok ? result.rendered.errors : result.errors;
  if (result.ok) {
    const out = printable(node, result.rendered);
    process.stdout.write(format === 'json' ? `${JSON.stringify(out, null, 2)}\n` : stringify(out, { lineWidth: 0, aliasDuplicateObjects: false }));
  }
  for (const e of errors) process.stderr.write(`error: ${e}\n`);
  return errors.length > 0 ? 1 : 0;
}

function printable(node: { namespace: string; ambassador: string; environment?: string }, r: Rendered) {
  return {
    node,
    group: r.group,
    configMap: r.configMap,
    version: r.version,
    ...(r.serviceAccounts.length > 0 ? { serviceAccounts: r.serviceAccounts } : {}),
    resources: r.resources.map((x) => ({
      type: isTypeUrl(x.typeUrl) ? SHORT_NAME[x.typeUrl] : x.typeUrl,
      name: x.name,
      version: x.version,
      ...(x.resource ? { resource: x.resource } : {}),
    })),
  };
}
