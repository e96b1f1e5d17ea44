// The worker thread of DryRunner: validates or renders one set of manifests at a time. It says
// 'ready' once its modules and Envoy's API are loaded: a job's deadline starts then.
import { parentPort } from 'node:worker_threads';
import { xdsRoot } from '../xds/protos.ts';
import type { DryRunJob, DryRunReply } from './dry-runner.ts';
import { renderManifests } from './render.ts';
import { validateManifests } from './validate.ts';

const root = await xdsRoot();
parentPort?.postMessage('ready');

parentPort?.on('message', (job: DryRunJob) => {
  let reply: DryRunReply;
  try {
    reply = job.kind === 'validate'
      ? { id: job.id, kind: 'validate', result: validateManifests(job.inputs) }
      : { id: job.id, kind: 'render', result: renderManifests(root, job.inputs, job.node) };
  } catch (e) {
    reply = { id: job.id, kind: 'failed', message: e instanceof Error ? `${e.name}: ${e.message}` : String(e) };
  }
  parentPort?.postMessage(reply);
});
