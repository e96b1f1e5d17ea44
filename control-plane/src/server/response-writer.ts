// Backpressure for one stream's responses. A response is written only once the previous one has
// been handed to the HTTP/2 layer within the client's flow-control window (its write callback ran):
// a client that stops reading holds at most one response in memory, however often the config
// changes or it re-requests. State-of-the-World responses carry whole state, so nothing is queued:
// when the write drains, the stream computes what to send from the state of that moment.
// A response that stays undrained for `sendTimeoutMs` means the client is not reading: the stream
// is closed (RESOURCE_EXHAUSTED) and its memory released.

export interface ResponseWriterOptions {
  /** Hands bytes to the transport; `done` runs once they have drained. */
  write(bytes: Uint8Array, done: () => void): void;
  /** There is room for another response. */
  onDrain(): void;
  /** The client has not read a response for too long. */
  onStalled(message: string): void;
  sendTimeoutMs: number;
}

export class ResponseWriter {
  readonly #o: ResponseWriterOptions;
  #inFlight = 0;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(o: ResponseWriterOptions) {
    this.#o = o;
  }

  /** Bytes written and not yet drained (at most one response). */
  get buffered(): number {
    return this.#inFlight;
  }

  ready(): boolean {
    return this.#inFlight === 0 && !this.#closed;
  }

  write(bytes: Uint8Array): void {
    if (!this.ready()) throw new Error('ResponseWriter.write() while a response is in flight');
    this.#inFlight = bytes.byteLength;
    this.#timer = setTimeout(() => {
      this.#o.onStalled(`the client has not read a ${this.#inFlight}-byte response for ${this.#o.sendTimeoutMs / 1000} s`);
    }, this.#o.sendTimeoutMs);
    this.#o.write(bytes, () => {
      clearTimeout(this.#timer);
      this.#inFlight = 0;
      if (!this.#closed) this.#o.onDrain();
    });
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
  }
}
