// scripts/recipe.sh NAME [--environment ENV]: one README recipe, runnable locally: its stand-in
// peers, the control plane on the recipe's manifests and a real Envoy. Ctrl-C stops everything.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { RECIPES, recipeFiles } from './recipes.ts';
import { assertFree, Supervisor } from './supervisor.ts';

const CONTROL = { xds: 18000, http: 19000, admin: 9901 };

const { positionals, values } = parseArgs({ options: { environment: { type: 'string' } }, allowPositionals: true });
const recipe = RECIPES.find((r) => r.name === positionals[0]);
if (!recipe) {
  process.stderr.write(`usage: scripts/recipe.sh NAME [--environment ENV]\nrecipes: ${RECIPES.map((r) => r.name).join(', ')}\n`);
  process.exit(2);
}

const sup = new Supervisor();
const dir = mkdtempSync(path.join(tmpdir(), `xds-recipe-${recipe.name}-`));
sup.onStop(() => rmSync(dir, { recursive: true, force: true }));

async function main(r: NonNullable<typeof recipe>): Promise<void> {
  for (const [what, port] of Object.entries({ ...r.ports, ...CONTROL })) await assertFree(port, what);
  const peers = await r.startPeers(r.ports, (line) => process.stdout.write(`${line}\n`));
  sup.onStop(() => peers.stop());
  for (const [file, text] of Object.entries({ ...recipeFiles(r, r.ports), ...peers.files })) writeFileSync(path.join(dir, file), text);
  await sup.startControlPlane(dir, CONTROL);
  // .json, so that the directory source (which reads *.yaml) leaves it alone.
  await sup.startEnvoy(path.join(dir, 'envoy-bootstrap.json'), {
    nodeId: `${r.ambassador}-1`, ambassador: r.ambassador, namespace: r.namespace, serviceAccount: r.ambassador,
    ...(values.environment ? { environment: values.environment } : {}),
    xdsAddress: `127.0.0.1:${CONTROL.xds}`, adminPort: CONTROL.admin,
  }, peers.envoyEnv);
  process.stdout.write(`\nRecipe "${r.title}" is running (manifests: deploy/recipes/${r.name}/, served from ${dir}).\nTry:\n  ${r.tryIt(r.ports)}\n\nCtrl-C stops everything.\n`);
}

main(recipe).catch((e: unknown) => {
  process.stderr.write(`recipe: ${e instanceof Error ? e.message : String(e)}\n`);
  void sup.stop(1);
});
