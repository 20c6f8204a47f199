import type { IncomingMessage } from 'node:http';
import type { ClientAddress } from '../client-address.js';

/**
 * Long-lived connections per client address, counted across transports: graphql-ws sockets,
 * SSE streams and multipart subscription responses share one cap, so a client cannot hold the
 * cap on each transport.
 */
export class ClientCaps {
  private readonly open = new Map<string, number>();

  /**
   * @param max open connections one client address may hold (count)
   * @param addressOf a request's client address (../client-address.ts: behind trusted proxies, the
   *   address they forwarded for); default the peer's
   */
  constructor(
    readonly max: number,
    private readonly addressOf: ClientAddress = (req) => req.socket.remoteAddress ?? '',
  ) {}

  /** True when the client of `req` may open one more. */
  allows(req: IncomingMessage): boolean {
    return (this.open.get(this.addressOf(req)) ?? 0) < this.max;
  }

  /** Counts a connection of the client of `req` until the returned function is called (once). */
  hold(req: IncomingMessage): () => void {
    const address = this.addressOf(req);
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
