// parseConfigMap without blocking the process. The YAML library needs seconds for a large hostile
// ambassador.yaml (about 3 s for a 1 MiB flow list, measured), during which nothing else would
// run: no xDS response, no health probe answer, no other ConfigMap. A small config (nearly all of
// them) is parsed at once; a larger one in a worker thread, one at a time, with a deadline after
// which the worker is replaced and the ConfigMap gets an error.
import { Worker } from 'node:worker_threads';
import type { ConfigMapObject } from '../sources/types.ts';
import { CONFIG_KEY, parseConfigMap, type ParseResult } from './parse-configmap.ts';
import { withFileLine } from './errors.ts';

export interface ConfigParserOptions {
  /** Texts up to this many characters are parsed inline (a few milliseconds at most). */
  inlineChars: number;
  timeoutMs: number;
}

export const DEFAULT_PARSER_OPTIONS: ConfigParserOptions = { inlineChars: 16 * 1024, timeoutMs: 10_000 };

interface Job {
  id: number;
  cm: ConfigMapObject;
  resolve(r: ParseResult): void;
}

export class ConfigParser {
  readonly #o: ConfigParserOptions;
  #worker: Worker | undefined;
  readonly #queue: Job[] = [];
  #running: { job: Job; timer: NodeJS.Timeout } | undefined;
  #nextId = 0;
  #closed = false;

  constructor(o: ConfigParserOptions = DEFAULT_PARSER_OPTIONS) {
    this.#o = o;
  }

  /** Whether `cm` is parsed at once by parse() (true) or takes a trip to the worker. */
  isInline(cm: ConfigMapObject): boolean {
    return (cm.data[CONFIG_KEY]?.length ?? 0) <= this.#o.inlineChars;
  }

  parse(cm: ConfigMapObject): Promise<ParseResult> {
    if (this.isInline(cm)) return Promise.resolve(parseConfigMap(cm));
    if (this.#closed) return Promise.resolve(failure(cm, 'could not be parsed: the control plane is stopping'));
    return new Promise((resolve) => {
      this.#queue.push({ id: ++this.#nextId, cm, resolve });
      this.#next();
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const job of this.#queue.splice(0)) job.resolve(failure(job.cm, 'could not be parsed: the control plane is stopping'));
    if (this.#running) {
      clearTimeout(this.#running.timer);
      this.#running.job.resolve(failure(this.#running.job.cm, 'could not be parsed: the control plane is stopping'));
      this.#running = undefined;
    }
    await this.#worker?.terminate();
    this.#worker = undefined;
  }

  #next(): void {
    if (this.#running || this.#closed) return;
    const job = this.#queue.shift();
    if (!job) return;
    const worker = this.#spawn();
    const timer = setTimeout(() => {
      // Stuck on this input: the worker goes (and its CPU with it), the ConfigMap gets an error.
      this.#running = undefined;
      this.#worker = undefined;
      void worker.terminate();
      job.resolve(failure(job.cm, `is too large or too complex to parse within ${this.#o.timeoutMs / 1000} s — make the config smaller or simpler; the last good version stays served`));
      this.#next();
    }, this.#o.timeoutMs);
    this.#running = { job, timer };
    worker.postMessage({ id: job.id, cm: job.cm });
  }

  #spawn(): Worker {
    if (this.#worker) return this.#worker;
    const worker = new Worker(new URL('./parse-worker.ts', import.meta.url));
    worker.unref();
    worker.on('message', (m: { id: number; result: ParseResult }) => {
      const r = this.#running;
      if (!r || r.job.id !== m.id) return;
      clearTimeout(r.timer);
      this.#running = undefined;
      r.job.resolve(m.result);
      this.#next();
    });
    const lost = (why: string) => {
      if (this.#worker !== worker) return;
      this.#worker = undefined;
      const r = this.#running;
      if (!r) return;
      clearTimeout(r.timer);
      this.#running = undefined;
      r.job.resolve(failure(r.job.cm, `could not be parsed (an internal error, please report it: the parser ${why}) — the last good version stays served`));
      this.#next();
    };
    worker.on('error', (err) => lost(`failed: ${err.message}`));
    worker.on('exit', (code) => lost(`exited with code ${code}`));
    this.#worker = worker;
    return worker;
  }
}

function failure(cm: ConfigMapObject, message: string): ParseResult {
  return { ok: false, errors: [withFileLine(cm, { object: `${cm.namespace}/${cm.name}`, key: CONFIG_KEY, path: '', message })] };
}
