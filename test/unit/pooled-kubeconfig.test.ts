// API calls share one undici Agent (and so its TLS connections) while the cluster, user and TLS
// material stay the same; a rotated CA or client certificate gets a new one.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { RequestContext } from '@kubernetes/client-node';
import { PooledKubeConfig } from '../../control-plane/src/kubernetes/pooled-kubeconfig.ts';

const dirs: string[] = [];
afterEach(async () => { for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true }); });

async function kubeConfig(): Promise<{ kc: PooledKubeConfig; caFile: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'pooled-kc-'));
  dirs.push(dir);
  const caFile = join(dir, 'ca.crt');
  await writeFile(caFile, 'first CA');
  const kc = new PooledKubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: 'https://127.0.0.1:6443', caFile, skipTLSVerify: false }],
    users: [{ name: 'u', token: 'a-token' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return { kc, caFile };
}

async function dispatcherOf(kc: PooledKubeConfig) {
  const context = new RequestContext('https://127.0.0.1:6443/api/v1/namespaces', 'GET');
  await kc.applySecurityAuthentication(context);
  expect(context.getHeaders()['Authorization']).toBe('Bearer a-token'); // authentication is client-node's, untouched
  return context.getDispatcher();
}

describe('PooledKubeConfig', () => {
  it('gives every call the same Agent while the TLS material is the same', async () => {
    const { kc } = await kubeConfig();
    const first = await dispatcherOf(kc);
    expect(first).toBeDefined();
    expect(await dispatcherOf(kc)).toBe(first);
    expect(await dispatcherOf(kc)).toBe(first);
  });

  it('makes a new Agent once the CA file changes', async () => {
    const { kc, caFile } = await kubeConfig();
    const first = await dispatcherOf(kc);
    await writeFile(caFile, 'rotated CA');
    const second = await dispatcherOf(kc);
    expect(second).not.toBe(first);
    expect(await dispatcherOf(kc)).toBe(second);
  });
});
