// `serve`'s admission webhook flags, kept in one block: parsed with the other serve flags, checked
// before anything starts, started once the pipeline runs.
import { startAdmissionWebhook } from '../kubernetes/admission-webhook.ts';
import type { AmbassadorOwners } from '../kubernetes/configmap-admission.ts';
import type { Logger } from '../observe/log.ts';
import { CertificateFiles } from '../tls/certificate-files.ts';
import { portFlag, UsageError } from './args.ts';

export const WEBHOOK_FLAGS = {
  'webhook-port': { type: 'string' },
  'webhook-cert': { type: 'string' },
  'webhook-key': { type: 'string' },
} as const;

export const WEBHOOK_HELP = `  --webhook-port N      serve the validating admission webhook (HTTPS, POST /validate-configmap) on
                        this port (default: off; 0 picks a free one)
  --webhook-cert PATH   with --webhook-port: its serving certificate (PEM), reloaded when it changes
  --webhook-key PATH    with --webhook-port: the certificate's private key (PEM)
`;

export interface WebhookSettings {
  port: number;
  certFile: string;
  keyFile: string;
}

export function webhookSettings(values: { 'webhook-port'?: string | undefined; 'webhook-cert'?: string | undefined; 'webhook-key'?: string | undefined }): WebhookSettings | undefined {
  const certFile = values['webhook-cert'];
  const keyFile = values['webhook-key'];
  if (values['webhook-port'] === undefined) {
    if (certFile !== undefined || keyFile !== undefined) throw new UsageError('--webhook-cert and --webhook-key go with --webhook-port');
    return undefined;
  }
  if (!certFile || !keyFile) throw new UsageError('--webhook-port needs --webhook-cert and --webhook-key (the API server only calls webhooks over HTTPS)');
  return { port: portFlag('webhook-port', values['webhook-port'], 0), certFile, keyFile };
}

/** Starts the webhook; logs `webhook listening` with its port. */
export async function startWebhook(s: WebhookSettings, address: string, owners: AmbassadorOwners, logger: Logger): Promise<{ close(): Promise<void> }> {
  const certificates = await CertificateFiles.open({ certFile: s.certFile, keyFile: s.keyFile }, logger);
  try {
    const webhook = await startAdmissionWebhook({ address, port: s.port, certificates, owners, logger });
    logger.info({ webhook_port: webhook.port }, 'webhook listening');
    return {
      async close() {
        await webhook.close();
        certificates.close();
      },
    };
  } catch (e) {
    certificates.close();
    throw e;
  }
}
