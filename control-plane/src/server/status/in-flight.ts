// The responses of one type on one stream that the Envoy has not answered yet, so that an ACK or
// NACK (which the observer reports by version) finds the response it answers. A SotW response
// supersedes every earlier one (only the latest nonce counts); Delta responses may be several at
// once, and Envoy answers them in order, so an answer is matched to the oldest response of its
// version, and the ones before it are answered too.
export class InFlight<T> {
  readonly #max: number;
  #list: { version: string; value: T }[] = [];

  constructor(max = 16) {
    this.#max = max;
  }

  sent(version: string, value: T, supersedes: boolean): void {
    if (supersedes) this.#list = [];
    this.#list.push({ version, value });
    if (this.#list.length > this.#max) this.#list.shift();
  }

  answered(version: string): T | undefined {
    const i = this.#list.findIndex((f) => f.version === version);
    if (i === -1) return undefined;
    const found = this.#list[i];
    this.#list = this.#list.slice(i + 1);
    return found?.value;
  }
}
