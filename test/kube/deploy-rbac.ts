// The control plane's exact grant: deploy/'s Namespace, ServiceAccount and RBAC applied to the test
// API server, and a kubeconfig (and token) of that ServiceAccount for `serve --kubernetes`.
import type { KubeApiServer } from './apiserver.ts';

export async function deployRbacKubeconfig(kube: KubeApiServer): Promise<{ kubeconfig: string; token: string }> {
  for (const file of ['deploy/control-plane/namespace.yaml', 'deploy/control-plane/rbac.yaml']) {
    const r = await kube.kubectl(['apply', '-f', file]);
    if (r.code !== 0) throw new Error(`kubectl apply -f ${file} failed: ${r.stderr}`);
  }
  const token = await kube.tokenFor('xds-ambassador', 'xds-system');
  return { kubeconfig: await kube.writeKubeconfig(token), token };
}
