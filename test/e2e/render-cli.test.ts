// `xds-ambassador render`: the real CLI over a folder of manifests, compared with golden output
// (test/golden/render/*.out.*). Secrets appear by name and version, never their values.
//
// To regenerate after an intended change, then review the diff by eye:
//   UPDATE_GOLDEN=1 node_modules/.bin/vitest run test/e2e/render-cli.test.ts
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { CLI, REPO_ROOT, configMap } from '../helpers/scenario.ts';

const run = promisify(execFile);
const GOLDEN = join(REPO_ROOT, 'test', 'golden', 'render');
const MANIFESTS = join(GOLDEN, 'manifests');
const UPDATE = process.env.UPDATE_GOLDEN === '1';
/** Values of the fixture's Secrets: none may appear in any output. */
const SECRET_VALUES = ['render-golden-secret-token', 'RENDER-GOLDEN-CERT', 'RENDER-GOLDEN-SECRET-KEY'];

async function render(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, [CLI, 'render', ...args], { cwd: REPO_ROOT, timeout: 30_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

function golden(file: string, actual: string): string {
  const path = join(GOLDEN, file);
  if (UPDATE) writeFileSync(path, actual);
  return readFileSync(path, 'utf8');
}

describe('render', () => {
  it('prints what a staging Envoy of shop/orders receives, as YAML, exactly as the golden file', async () => {
    const r = await render('test/golden/render/manifests', '--namespace', 'shop', '--ambassador', 'orders', '--environment', 'staging');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(golden('orders-staging.out.yaml', r.stdout));
    for (const v of SECRET_VALUES) expect(r.stdout).not.toContain(v);
    // The staging endpoints, not the base config's; the other namespace's ambassador is not there.
    expect(r.stdout).toContain('address: 10.9.0.10');
    expect(r.stdout).not.toContain('10.0.0.10');
    expect(r.stdout).not.toContain('finance');
  });

  it('prints the base config as JSON, exactly as the golden file, with the Secrets by name and version only', async () => {
    const r = await render(MANIFESTS, '--namespace', 'shop', '--ambassador', 'orders', '--format', 'json');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(golden('orders.out.json', r.stdout));
    const out = JSON.parse(r.stdout) as { group: string; serviceAccounts: string[]; resources: { type: string; name: string; version: string; resource?: unknown }[] };
    expect(out.group).toBe('shop/orders');
    expect(out.serviceAccounts).toEqual(['orders']);
    const sds = out.resources.filter((x) => x.type === 'SDS');
    expect(sds.map((x) => x.name)).toEqual(['shop/catalog-token/token/credential-35e5a963', 'shop/payments-client/tls-certificate']);
    for (const s of sds) expect(Object.keys(s)).toEqual(['type', 'name', 'version']);
    for (const v of SECRET_VALUES) expect(r.stdout).not.toContain(v);
    // An environment with no overrides of its own gets the ambassador's config.
    const prod = await render(MANIFESTS, '--namespace', 'shop', '--ambassador', 'orders', '--environment', 'prod', '--format', 'json');
    expect(prod.code).toBe(0);
    expect({ ...(JSON.parse(prod.stdout) as object), node: undefined }).toEqual({ ...out, node: undefined });
  });

  it('fails with the reason when no config serves the node, or when the config is invalid', async () => {
    const none = await render(MANIFESTS, '--namespace', 'shop', '--ambassador', 'cart');
    expect(none.code).toBe(1);
    expect(none.stdout).toBe('');
    expect(none.stderr).toBe('error: no ConfigMap of namespace "shop" configures ambassador "cart" (found: finance/billing, shop/orders)\n');

    const dir = await mkdtemp(join(tmpdir(), 'render-'));
    try {
      await writeFile(join(dir, 'cart.yaml'), configMap({ name: 'cart', namespace: 'shop', config: 'ambassador: cart\nlisteners: []' }));
      const bad = await render(dir, '--namespace', 'shop', '--ambassador', 'cart');
      expect(bad.code).toBe(1);
      expect(bad.stdout).toBe('');
      expect(bad.stderr).toBe(`error: ConfigMap shop/cart claims ambassador "cart" of namespace "shop" but is invalid: an Envoy of it would get no config
error: ${join(dir, 'cart.yaml')}:11: ConfigMap shop/cart: ambassador.yaml: listeners (line 2): expected at least one listener, found a list (0 items)
`);
      // A config served despite an error (a missing Secret: the route answers 503) prints both.
      await writeFile(join(dir, 'cart.yaml'), configMap({ name: 'cart', namespace: 'shop', config: `
ambassador: cart
listeners:
  - name: api
    port: 8000
    routes: [{match: {prefix: /}, upstream: backend, inject: {header: x-key, secret: {name: nowhere, key: k}}}]
upstreams:
  backend: {endpoints: ["10.0.0.1:80"]}` }));
      const partial = await render(dir, '--namespace', 'shop', '--ambassador', 'cart');
      expect(partial.code).toBe(1);
      expect((parse(partial.stdout) as { resources: unknown[] }).resources.length).toBeGreaterThan(0);
      expect(partial.stderr).toBe(`error: ${join(dir, 'cart.yaml')}:10: ConfigMap shop/cart: ambassador.yaml: listeners[0].routes[0].inject.secret: Secret shop/nowhere not found; create it in namespace "shop", or fix the name at listeners[0].routes[0].inject.secret\n`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses bad usage with exit code 2', async () => {
    expect((await render(MANIFESTS, '--namespace', 'shop')).code).toBe(2);
    expect((await render('--ambassador', 'orders')).code).toBe(2);
    const format = await render(MANIFESTS, '--ambassador', 'orders', '--format', 'xml');
    expect(format.code).toBe(2);
    expect(format.stderr).toContain('--format: expected yaml or json, found "xml"');
  });
});
