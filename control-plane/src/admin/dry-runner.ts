// Validate and Render for the admin API, off the event loop. Their input comes from whoever the
// caller checks (a CI job validating a pull request): parsing a large hostile manifest takes the
// YAML library seconds, during which xDS, probes and edits would all wait. So each runs in a worker
// thread, one at a time, with a deadline after which the worker is replaced and the call fails;
// a few calls wait their turn, more are refused.
import { Worker } from 'node:worker_threads';
import type { ManifestInput } from './manifest-set.ts';
import type { RenderNode, RenderResult } from './render.ts';
import type { ValidateResult } from './validate.ts';

export type DryRunJob =
  | { id: number; kind: 'validate'; inputs: ManifestInput[] }
  | { id: number; kind: 'render'; inputs: ManifestInput[]; node: RenderNode };

export type DryRunReply =
  | { id: number; kind: 'validate'; result: ValidateResult }
  | { id: number; kind: 'render'; result: RenderResult }
  | { id: number; kind: 'failed'; message: string };

export class DryRunError extends Error {
  readonly reason: 'deadline' | 'busy' | 'failed' | 'stopping';
  constructor(reason: DryRunError['reason'], message: string) {
    super(message);
    this.reason = reason;
  }
}

export interface DryRunnerOptions {
  timeoutMs: number;
  /** Calls waiting for the worker; more are refused. */
  maxQueued: number;
}

export const DEFAULT_DRY_RUNNER_OPTIONS: DryRunnerOptions = { timeoutMs: 10_000, maxQueued: 8 };

interface Pending {
  job: DryRunJob;
  resolve(r: DryRunReply): void;
  reject(e: DryRunError): void;
}

type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;

export class DryRunner {
  readonly #o: DryRunnerOptions;
  #worker: { worker: Worker; ready: Promise<void> } | undefined;
  readonly #queue: Pending[] = [];
  #running: { p: Pending; timer?: NodeJS.Timeout } | undefined;
  #nextId = 0;
  #closed = false;

  constructor(o: DryRunnerOptions = DEFAULT_DRY_RUNNER_OPTIONS) {
    this.#o = o;
  }

  async validate(inputs: ManifestInput[]): Promise<ValidateResult> {
    const r = await this.#run({ kind: 'validate', inputs });
    if (r.kind !== 'validate') throw new DryRunError('failed', 'unexpected reply');
    return r.result;
  }

  async render(inputs: ManifestInput[], node: RenderNode): Promise<RenderResult> {
    const r = await this.#run({ kind: 'render', inputs, node });
    if (r.kind !== 'render') throw new DryRunError('failed', 'unexpected reply');
    return r.result;
  }

  async close(): Promise<void> {
    this.#closed = true;
    const stopping = new DryRunError('stopping', 'the control plane is stopping');
    for (const p of this.#queue.splice(0)) p.reject(stopping);
    if (this.#running) {
      clearTimeout(this.#running.timer);
      this.#running.p.reject(stopping);
      this.#running = undefined;
    }
    await this.#worker?.worker.terminate();
    this.#worker = undefined;
  }

  #run(job: WithoutId<DryRunJob>): Promise<DryRunReply> {
    if (this.#closed) return Promise.reject(new DryRunError('stopping', 'the control plane is stopping'));
    if (this.#queue.length >= this.#o.maxQueued) {
      return Promise.reject(new DryRunError('busy', `${this.#queue.length} dry runs are already waiting; try again shortly`));
    }
    return new Promise<DryRunReply>((resolve, reject) => {
      this.#queue.push({ job: { ...job, id: ++this.#nextId } as DryRunJob, resolve, reject });
      this.#next();
    }).then((r) => (r.kind === 'failed' ? Promise.reject(new DryRunError('failed', `the dry run failed (an internal error, please report it: ${r.message})`)) : r));
  }

  #next(): void {
    if (this.#running || this.#closed) return;
    const p = this.#queue.shift();
    if (!p) return;
    const { worker, ready } = this.#spawn();
    const running: { p: Pending; timer?: NodeJS.Timeout } = { p };
    this.#running = running;
    worker.postMessage(p.job);
    // The deadline is the job's own: a new worker's start (its modules, Envoy's API) does not count.
    void ready.then(() => {
      if (this.#running !== running) return;
      running.timer = setTimeout(() => {
        // Stuck on this input: the worker goes (and its CPU with it), the call fails.
        this.#running = undefined;
        this.#worker = undefined;
        void worker.terminate();
        p.reject(new DryRunError('deadline', `the manifests are too large or too complex to check within ${this.#o.timeoutMs / 1000} s — make them smaller or simpler`));
        this.#next();
      }, this.#o.timeoutMs);
    });
  }

  #spawn(): { worker: Worker; ready: Promise<void> } {
    if (this.#worker) return this.#worker;
    const worker = new Worker(new URL('./dry-run-worker.ts', import.meta.url));
    worker.unref();
    const { promise: ready, resolve: isReady } = Promise.withResolvers<void>();
    worker.on('message', (reply: DryRunReply | 'ready') => {
      if (reply === 'ready') return isReady();
      const r = this.#running;
      if (!r || r.p.job.id !== reply.id) return;
      clearTimeout(r.timer);
      this.#running = undefined;
      r.p.resolve(reply);
      this.#next();
    });
    const lost = (why: string) => {
      if (this.#worker?.worker !== worker) return;
      this.#worker = undefined;
      const r = this.#running;
      if (!r) return;
      clearTimeout(r.timer);
      this.#running = undefined;
      r.p.reject(new DryRunError('failed', `the dry run failed (an internal error, please report it: the worker ${why})`));
      this.#next();
    };
    worker.on('error', (err) => lost(`failed: ${err.message}`));
    worker.on('exit', (code) => lost(`exited with code ${code}`));
    this.#worker = { worker, ready };
    return this.#worker;
  }
}
