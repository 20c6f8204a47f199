/**
 * Shares one run of an async function per key among the callers that ask while it is in flight
 * (the "single flight" of Go's golang.org/x/sync/singleflight): the first caller's `fn` runs, later
 * callers with the same key get its promise, and the key is forgotten once that settles, so a
 * later call runs `fn` again and a failure is not remembered. Within this process only.
 */
export class SingleFlight<V> {
  private readonly inFlight = new Map<string, Promise<V>>();

  /** `fn()`'s promise, shared with every caller of `key` until it settles (resolved or rejected). */
  run(key: string, fn: () => Promise<V>): Promise<V> {
    let p = this.inFlight.get(key);
    if (!p) {
      p = fn().finally(() => this.inFlight.delete(key));
      this.inFlight.set(key, p);
    }
    return p;
  }

  /** Keys with a run in flight. */
  get size(): number {
    return this.inFlight.size;
  }
}
