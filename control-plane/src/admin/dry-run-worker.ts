// The worker thread of DryRunner: validates or renders one set of manifests at a time.
import { parentPort } from 'node:worker_threads';
import { xdsRoot } from '../xds/protos.ts';
import type { DryRunJob, DryRunReply } from './dry-runner.ts';
import { renderManifests } from './render.ts';
import { validateManifests } from './validate.ts';

parentPort?.on('message', (job: DryRunJob) => {
  void (async (): Promise<DryRunReply> => {
    try {
      if (job.kind === 'validate') return { id: job.id, kind: 'validate', result: validateManifests(job.inputs) };
      return { id: job.id, kind: 'render', result: renderManifests(await xdsRoot(), job.inputs, job.node) };
    } catch (e) {
      return { id: job.id, kind: 'failed', message: e instanceof Error ? `${e.name}: ${e.message}` : String(e) };
    }
  })().then((reply) => parentPort?.postMessage(reply));
});
