// Starts serve's admission webhook on the xDS port's certificate.
import { startAdmissionWebhook } from '../kubernetes/admission-webhook.ts';
import type { AdmissionContext } from '../kubernetes/configmap-admission.ts';
import type { Logger } from '../observe/log.ts';
import type { CertificateFiles } from '../tls/certificate-files.ts';

/** Logs `webhook listening` with its port. */
export async function startWebhook(port: number, address: string, certificates: CertificateFiles, context: AdmissionContext, logger: Logger): Promise<{ close(): Promise<void> }> {
  const webhook = await startAdmissionWebhook({ address, port, certificates, context, logger });
  logger.info({ webhook_port: webhook.port }, 'webhook listening');
  return webhook;
}
