// Which API server to talk to: an explicit kubeconfig, else client-node's defaults ($KUBECONFIG,
// ~/.kube/config, or the in-cluster service account when run in a Pod).
import type { KubeConfig } from '@kubernetes/client-node';
import { existsSync } from 'node:fs';
import { PooledKubeConfig } from '../kubernetes/pooled-kubeconfig.ts';
import { UsageError } from './args.ts';

export function loadKubeConfig(path: string | undefined): KubeConfig {
  const kc = new PooledKubeConfig();
  if (path !== undefined) {
    if (!existsSync(path)) throw new UsageError(`--kubeconfig: no file at ${path}`);
    kc.loadFromFile(path);
  } else {
    kc.loadFromDefault();
  }
  if (!kc.getCurrentCluster()) throw new UsageError('no Kubernetes cluster configured: pass --kubeconfig PATH, set $KUBECONFIG, or run in a Pod');
  return kc;
}
