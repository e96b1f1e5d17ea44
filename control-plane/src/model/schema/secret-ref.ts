// A reference to a Kubernetes Secret in the ConfigMap's own namespace.
import { z } from 'zod';
import { strict } from './common.ts';

const SECRET_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const SECRET_KEY = /^[-._a-zA-Z0-9]+$/;

export const secretName = z.string().max(253).regex(SECRET_NAME, { error: 'expected a Secret name: lowercase letters, digits, "-" and "."' });
export const secretKey = z.string().max(253).regex(SECRET_KEY, { error: 'expected a Secret data key: letters, digits, "-", "_" and "."' });

/** {name, key}: one value of a Secret. */
export const secretKeyRef = strict({ name: secretName, key: secretKey });
