// A reference to a Kubernetes Secret in the ConfigMap's own namespace.
import { z } from 'zod';
import { describeValue } from '../errors.ts';
import { strict } from './common.ts';

const SECRET_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const SECRET_KEY = /^[-._a-zA-Z0-9]+$/;

export const secretName = z.string().max(253).regex(SECRET_NAME, { error: 'expected a Secret name: lowercase letters, digits, "-" and "."' });
export const secretKey = z.string().max(253).regex(SECRET_KEY, { error: 'expected a Secret data key: letters, digits, "-", "_" and "."' });

/** {name, key}: one value of a Secret. */
export const secretKeyRef = strict({ name: secretName, key: secretKey });

/** secretKeyRef where a credential goes. A value pasted in its place by mistake is refused without
 * being repeated (errors go to logs, /debug/status and Kubernetes Events): only its kind is named. */
export const secretReference = z.preprocess((v, ctx) => {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) {
    const found = typeof v === 'string' ? 'a string' : v === undefined ? 'nothing' : typeof v === 'number' ? 'a number' : describeValue(v);
    ctx.addIssue({
      code: 'custom',
      message: `expected a reference to a Secret, {name: SECRET, key: KEY}, found ${found} — the value itself never goes in a ConfigMap: put it in a Secret of this namespace and name it here`,
      input: undefined,
    });
    return z.NEVER;
  }
  return v;
}, secretKeyRef);
