/**
 * Who a request comes from, for per-client caps and limits: the address of the peer, or, when
 * that peer is a trusted proxy (`TRUSTED_PROXIES`), the address it says it forwarded for
 * (`X-Forwarded-For`, read right to left through trusted proxies only: proxy-addr, the
 * algorithm Express uses). Behind an ingress every client would otherwise share the ingress's
 * address, and one bucket.
 */
import type { IncomingMessage } from 'node:http';
import proxyaddr from 'proxy-addr';

/** A request's client address (see the module doc). */
export type ClientAddress = (req: IncomingMessage) => string;

/**
 * The client address of requests, trusting `trusted` proxies: CIDRs or addresses
 * (`10.0.0.0/8`, `192.168.1.7`), or proxy-addr's names `loopback`, `linklocal`, `uniquelocal`.
 * None: the peer's address, whatever the headers say.
 * @throws TypeError on an entry that is neither (proxy-addr's compile).
 */
export function clientAddressOf(trusted: readonly string[] = []): ClientAddress {
  if (!trusted.length) return (req) => req.socket.remoteAddress ?? '';
  const trust = proxyaddr.compile([...trusted]);
  return (req) => {
    try {
      return proxyaddr(req as Parameters<typeof proxyaddr>[0], trust);
    } catch {
      return req.socket.remoteAddress ?? '';
    }
  };
}
