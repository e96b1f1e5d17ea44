// A bounded map whose entries lapse at their own deadline. When full, the oldest entry makes room:
// a flood of new keys can cost old answers (one more lookup each), never unbounded memory.
export class ExpiringCache<V> {
  readonly #max: number;
  readonly #entries = new Map<string, { value: V; untilMs: number }>();

  constructor(maxEntries: number) {
    this.#max = maxEntries;
  }

  get(key: string, nowMs: number): V | undefined {
    const e = this.#entries.get(key);
    if (e === undefined) return undefined;
    if (e.untilMs > nowMs) return e.value;
    this.#entries.delete(key);
    return undefined;
  }

  set(key: string, value: V, untilMs: number): void {
    this.#entries.delete(key);
    while (this.#entries.size >= this.#max) {
      const oldest = this.#entries.keys().next();
      if (oldest.done) break;
      this.#entries.delete(oldest.value);
    }
    this.#entries.set(key, { value, untilMs });
  }
}
