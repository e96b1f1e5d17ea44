// The AdmissionReview (admission.k8s.io/v1) that the API server posts to a validating webhook, and
// the answer it expects. Only the fields the webhook reads are checked; the rest passes untouched.
import { z } from 'zod';

const groupVersionKind = z.object({ group: z.string(), version: z.string(), kind: z.string() });

export const admissionReviewSchema = z.looseObject({
  apiVersion: z.literal('admission.k8s.io/v1'),
  kind: z.literal('AdmissionReview'),
  request: z.looseObject({
    uid: z.string().min(1).max(128),
    kind: groupVersionKind,
    /** CREATE, UPDATE, DELETE or CONNECT (kept open: a newer API server may add one). */
    operation: z.string(),
    namespace: z.string().optional(),
    name: z.string().optional(),
    object: z.unknown().optional(),
    oldObject: z.unknown().optional(),
  }),
});

export type AdmissionRequest = z.infer<typeof admissionReviewSchema>['request'];

/** The part of a ConfigMap the validation reads. */
export const admittedConfigMapSchema = z.looseObject({
  metadata: z.looseObject({
    name: z.string().optional(),
    generateName: z.string().optional(),
    namespace: z.string().optional(),
    labels: z.record(z.string(), z.string()).optional(),
    deletionTimestamp: z.string().optional(),
  }),
  data: z.record(z.string(), z.string()).optional(),
  /** base64, as the API server sends it. */
  binaryData: z.record(z.string(), z.string()).optional(),
});

export type AdmittedConfigMap = z.infer<typeof admittedConfigMapSchema>;

export type Verdict = { allowed: true } | { allowed: false; message: string };

/** The AdmissionReview answer. A refusal is 422 Invalid, as the API server's own validation
 * answers; kubectl prints `admission webhook "…" denied the request: <message>`. */
export function admissionResponse(uid: string, verdict: Verdict): unknown {
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    response: verdict.allowed
      ? { uid, allowed: true }
      : { uid, allowed: false, status: { code: 422, reason: 'Invalid', message: verdict.message } },
  };
}
