// The worker thread of ConfigParser: parses one ConfigMap at a time.
import { parentPort } from 'node:worker_threads';
import type { ConfigMapObject } from '../sources/types.ts';
import { parseConfigMap } from './parse-configmap.ts';

parentPort?.on('message', (job: { id: number; cm: ConfigMapObject }) => {
  parentPort?.postMessage({ id: job.id, result: parseConfigMap(job.cm) });
});
