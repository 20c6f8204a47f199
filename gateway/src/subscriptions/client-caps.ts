/**
 * Long-lived connections per client address, counted across transports: graphql-ws sockets,
 * SSE streams and multipart subscription responses share one cap, so a client cannot hold the
 * cap on each transport.
 */
export class ClientCaps {
  private readonly open = new Map<string, number>();

  /** @param max open connections one client address may hold (count) */
  constructor(readonly max: number) {}

  /** True when `address` may open one more. */
  allows(address: string): boolean {
    return (this.open.get(address) ?? 0) < this.max;
  }

  /** Counts a connection of `address` until the returned function is called (once). */
  hold(address: string): () => void {
    this.open.set(address, (this.open.get(address) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const n = (this.open.get(address) ?? 1) - 1;
      if (n > 0) this.open.set(address, n);
      else this.open.delete(address);
    };
  }
}
