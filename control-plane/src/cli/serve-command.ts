// `serve`: flags → a running control plane (plus the admission webhook), until SIGTERM or SIGINT.
// What only --kubernetes or --webhook-port needs (the Kubernetes client: some 50 MB) is imported
// only then.
import { startControlPlane } from '../control-plane.ts';
import { DEFAULT_OPERATORS, operatorIdentityProblem } from '../server/auth/operator.ts';
import { createLogger, type Logger } from '../observe/log.ts';
import type { Source } from '../sources/types.ts';
import { durationFlag, parseFlags, portFlag, requireFlag, UsageError } from './args.ts';
import { bindAddressFlag, DEFAULT_TOKEN_AUDIENCE, xdsSecurity } from './xds-security.ts';

export const SERVE_HELP = `xds-ambassador serve (--config-dir DIR | --kubernetes) (--tls-cert F --tls-key F [--client-ca F] | --insecure) [options]

Serves Envoy configuration over ADS from the labelled ConfigMaps (and the Secrets they reference):
either every *.yaml / *.yml file in DIR (subfolders too), as you would kubectl apply them, or a
Kubernetes API server. Edits are picked up live. The xDS port is TLS; every Envoy proves who it is
(a namespace and ServiceAccount) and gets only what that identity may have.

Source:
  --config-dir DIR        folder of Kubernetes manifests
  --deletion-grace D      with --config-dir: an object gone from the folder is removed only if it is
                          still gone after this long (default 2s; 0s removes at once)
  --kubernetes            read ConfigMaps labelled xds-ambassador.io/config=true from the API server
  --kubeconfig PATH       with --kubernetes: this kubeconfig (default: $KUBECONFIG, ~/.kube/config,
                          or the Pod's service account when run in a cluster)
  --namespace NS          with --kubernetes: only this namespace (repeat for several; default: all)

xDS security:
  --tls-cert FILE         the xDS port's certificate (PEM, e.g. tls.crt of a kubernetes.io/tls Secret);
  --tls-key FILE            reloaded when the files change; also the admission webhook's certificate
  --client-ca FILE        Envoys prove their identity with a client certificate signed by this CA, whose
                          URI SAN is spiffe://TRUST_DOMAIN/ns/NAMESPACE/sa/SERVICE_ACCOUNT
  --trust-domain NAME     with --client-ca: the trust domain of those identities (default cluster.local)
  --token-audience AUD    with --kubernetes and no --client-ca: Envoys present a ServiceAccount token
                          for this audience, checked with the TokenReview API (default ${DEFAULT_TOKEN_AUDIENCE})
  --insecure              plaintext xDS, no authentication, every node believed (warns at start;
                          only for a trusted loopback or a test)
  --idle-timeout D        close a connection with no stream, or an unfinished TLS handshake, after D (default 60s)
  --send-timeout D        close a stream whose client has not read a response for D (default 30s)

Operator services (CSDS, the admin API) on the xDS port:
  --operator NS/SA        an identity (certificate or token, as for Envoys) that may call them; repeat for
                          several (default xds-system/operator). Every other identity, every Envoy's
                          included, gets PERMISSION_DENIED. With --insecure: loopback callers only.

Ports:
  --xds-port N            gRPC port for ADS, health and reflection (default 18000; 0 picks a free one)
  --bind-address IP       address of the xDS and webhook ports (default 0.0.0.0)
  --http-port N           HTTP port for /healthz, /readyz, /metrics, /debug/status (default 19000; 0 picks a free one)
  --http-bind-address IP  address of the HTTP port (default 127.0.0.1; 0.0.0.0 for Kubernetes probes)
  --expose-debug          answer /debug/ on a non-loopback HTTP address too (default: loopback only)
  --webhook-port N        serve the validating admission webhook (HTTPS, POST /validate-configmap) on
                          this port with the --tls-cert certificate (default: off; 0 picks a free one)
  --log-level LEVEL       trace, debug, info, warn, error (default info, or $LOG_LEVEL)
`;

export async function serveCommand(args: string[]): Promise<number> {
  const { values } = parseFlags(args, {
    'config-dir': { type: 'string' },
    'deletion-grace': { type: 'string' },
    kubernetes: { type: 'boolean', default: false },
    kubeconfig: { type: 'string' },
    namespace: { type: 'string', multiple: true, default: [] },
    'xds-port': { type: 'string' },
    'http-port': { type: 'string' },
    'bind-address': { type: 'string', default: '0.0.0.0' },
    'http-bind-address': { type: 'string', default: '127.0.0.1' },
    'expose-debug': { type: 'boolean', default: false },
    'tls-cert': { type: 'string' },
    'tls-key': { type: 'string' },
    'client-ca': { type: 'string' },
    'trust-domain': { type: 'string', default: 'cluster.local' },
    'token-audience': { type: 'string' },
    insecure: { type: 'boolean', default: false },
    'idle-timeout': { type: 'string', default: '60s' },
    'send-timeout': { type: 'string', default: '30s' },
    'webhook-port': { type: 'string' },
    operator: { type: 'string', multiple: true, default: [] },
    'log-level': { type: 'string' },
  });
  if ((values['config-dir'] === undefined) === !values.kubernetes) {
    throw new UsageError('serve needs exactly one source: --config-dir DIR (manifests in a folder) or --kubernetes (an API server)');
  }
  if (!values.kubernetes && (values.kubeconfig !== undefined || values.namespace.length > 0 || values['token-audience'] !== undefined)) {
    throw new UsageError('--kubeconfig, --namespace and --token-audience go with --kubernetes');
  }
  if (values.kubernetes && values['deletion-grace'] !== undefined) throw new UsageError('--deletion-grace goes with --config-dir');
  if (values.insecure && values.operator.length > 0) throw new UsageError('--operator names identities, which --insecure does not have: with --insecure, CSDS and the admin API answer loopback callers only');
  for (const id of values.operator) {
    const problem = operatorIdentityProblem(id);
    if (problem) throw new UsageError(`--operator: ${problem}`);
  }
  const deletionGraceMs = values['deletion-grace'] === undefined ? undefined : durationFlag('deletion-grace', values['deletion-grace'], { zero: true });
  const logger = createLogger(values['log-level']);
  const kube = values.kubernetes ? await kubernetesParts(values.kubeconfig, values.namespace, logger) : undefined;
  const source: Source = kube?.source
    ?? new (await import('../sources/directory.ts')).DirectorySource({ dir: requireFlag('config-dir', values['config-dir']), logger, ...(deletionGraceMs === undefined ? {} : { deletionGraceMs }) });
  const audience = values['token-audience'] ?? DEFAULT_TOKEN_AUDIENCE;
  const security = await xdsSecurity({
    insecure: values.insecure,
    ...(values['tls-cert'] !== undefined ? { tlsCert: values['tls-cert'] } : {}),
    ...(values['tls-key'] !== undefined ? { tlsKey: values['tls-key'] } : {}),
    ...(values['client-ca'] !== undefined ? { clientCa: values['client-ca'] } : {}),
    trustDomain: values['trust-domain'],
    ...(kube ? { tokenVerifier: () => kube.tokenVerifier(audience) } : {}),
  }, logger);
  if (values['webhook-port'] !== undefined && !security.tls) throw new UsageError('--webhook-port needs --tls-cert and --tls-key: the API server calls webhooks over HTTPS only');
  const xdsAddress = bindAddressFlag('bind-address', values['bind-address']);
  const cp = await startControlPlane({
    source,
    logger,
    ...(kube ? { status: kube.status } : {}),
    xdsAddress,
    xdsPort: portFlag('xds-port', values['xds-port'], 18000),
    ...security,
    xdsLimits: { idleTimeoutMs: durationFlag('idle-timeout', values['idle-timeout']), sendTimeoutMs: durationFlag('send-timeout', values['send-timeout']) },
    httpAddress: bindAddressFlag('http-bind-address', values['http-bind-address']),
    httpPort: portFlag('http-port', values['http-port'], 19000),
    exposeDebug: values['expose-debug'],
    operators: values.operator.length > 0 ? values.operator : DEFAULT_OPERATORS,
  });
  const webhook = values['webhook-port'] !== undefined && security.tls
    ? await (await import('./webhook.ts')).startWebhook(portFlag('webhook-port', values['webhook-port'], 0), xdsAddress, security.tls, cp, logger).catch(async (e: unknown) => {
      await cp.stop();
      throw e;
    })
    : undefined;
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      logger.info({ signal }, 'shutting down');
      resolve();
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  await webhook?.close();
  await cp.stop();
  security.tls?.close();
  return 0;
}

/** The --kubernetes parts: the API server's source, Events recorder and token verifier. */
async function kubernetesParts(kubeconfig: string | undefined, namespaces: string[], logger: Logger) {
  const [{ loadKubeConfig }, { KubernetesSource }, { KubeEventRecorder }, { TokenReviewVerifier }] = await Promise.all([
    import('./kubeconfig.ts'), import('../sources/kubernetes.ts'), import('../observe/kube-events.ts'), import('../kubernetes/token-verifier.ts'),
  ]);
  const kubeConfig = loadKubeConfig(kubeconfig);
  return {
    source: new KubernetesSource({ kubeConfig, namespaces, logger }),
    status: new KubeEventRecorder(kubeConfig, logger),
    tokenVerifier: (audience: string) => new TokenReviewVerifier({ kubeConfig, audience, logger }),
  };
}
