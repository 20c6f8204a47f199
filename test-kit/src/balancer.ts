/**
 * A local stand-in for a Kubernetes Service: one address in front of a service's replicas,
 * round-robin over the replicas whose readiness probe (`GET /health/ready`, every `probeMs`)
 * passes, as kube-proxy routes only to ready endpoints. A replica leaves at once when it answers
 * not-ready (503: a draining pod, which Kubernetes takes out of its endpoints as it terminates) or
 * refuses the connection (stopped); a probe that times out (500 ms) counts against it only
 * `failureThreshold` times in a row (3, as deploy/k8s's readiness probes), so one slow answer of
 * a busy replica takes it out of nothing. HTTP and WebSocket upgrades
 * are proxied (http-proxy-3). Like a Service, it never retries: a request sent to a replica that
 * cannot take it fails (502), and is counted.
 *
 * With `readiness: false` every replica is always an endpoint, as with a Deployment that has no
 * readiness probe: what rolling restarts then cost is what the rolling-restart test shows.
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { createProxyServer } from 'http-proxy-3';

export interface BalancerOptions {
  /** Route only to replicas whose last probe passed (default true). */
  readiness?: boolean;
  /** Probe period, ms (default 100). */
  probeMs?: number;
  /** Timed-out probes in a row that take a replica out (default 3). */
  failureThreshold?: number;
}

/** Running balancer: its URL, its figures, and stop. */
export interface Balancer {
  url: string;
  /** Requests (and upgrades) that no replica answered: connection refused or reset (count). */
  readonly failed: number;
  /** Requests and upgrades passed to a replica (count). */
  readonly routed: number;
  /** Replica URLs routed to now. */
  readonly endpoints: string[];
  stop(): Promise<void>;
}

/** Starts a balancer on a free 127.0.0.1 port in front of `targets` (base URLs). */
export async function startBalancer(targets: string[], opts: BalancerOptions = {}): Promise<Balancer> {
  const readinessOn = opts.readiness ?? true;
  const ready = new Map(targets.map((t) => [t, !readinessOn]));
  let next = 0;
  let failed = 0;
  let routed = 0;

  const slow = new Map<string, number>();
  const probing = new Set<string>();
  const probe = async (target: string) => {
    // One probe at a time per replica: a stalled one is counted once per timeout, not per period.
    if (probing.has(target)) return;
    probing.add(target);
    try {
      const res = await fetch(`${target}/health/ready`, { signal: AbortSignal.timeout(500) });
      await res.arrayBuffer();
      ready.set(target, res.ok);
      slow.set(target, 0);
    } catch (err) {
      const timedOut = (err as Error).name === 'TimeoutError';
      const n = timedOut ? (slow.get(target) ?? 0) + 1 : Infinity;
      slow.set(target, timedOut ? n : 0);
      if (n >= (opts.failureThreshold ?? 3)) ready.set(target, false);
    } finally {
      probing.delete(target);
    }
  };
  const timer = readinessOn ? setInterval(() => targets.forEach((t) => void probe(t)), opts.probeMs ?? 100) : undefined;
  if (readinessOn) await Promise.all(targets.map(probe));

  /** The next endpoint, round-robin; undefined when none is ready. */
  const pick = (): string | undefined => {
    for (let i = 0; i < targets.length; i++) {
      const t = targets[next++ % targets.length];
      if (ready.get(t)) return t;
    }
    return undefined;
  };

  const proxy = createProxyServer({ xfwd: true });
  proxy.on('error', (_err, _req, res) => {
    // A WebSocket already switched (its 101 written to the client) that the replica then closed
    // abruptly, as a stopping replica may: the connection ends as the client's own would, not a
    // request no replica answered (the client reconnects, through the balancer, to another).
    if (!(res instanceof http.ServerResponse) && (res as Socket | undefined)?.bytesWritten) {
      (res as Socket).destroy();
      return;
    }
    failed++;
    if (res instanceof http.ServerResponse) {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ errors: [{ message: 'no replica answered', extensions: { code: 'BAD_GATEWAY' } }] }));
    } else (res as Socket | undefined)?.destroy();
  });

  const server = http.createServer((req, res) => {
    const target = pick();
    if (!target) {
      failed++;
      res.writeHead(503, { 'content-type': 'application/json' });
      return void res.end(JSON.stringify({ errors: [{ message: 'no ready replica', extensions: { code: 'SERVICE_UNAVAILABLE' } }] }));
    }
    routed++;
    proxy.web(req, res, { target });
  });
  server.on('upgrade', (req, socket: Socket, head) => {
    const target = pick();
    if (!target) {
      failed++;
      return void socket.destroy();
    }
    routed++;
    proxy.ws(req, socket, head, { target });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));

  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get failed() {
      return failed;
    },
    get routed() {
      return routed;
    },
    get endpoints() {
      return targets.filter((t) => ready.get(t));
    },
    async stop() {
      clearInterval(timer);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      proxy.close();
    },
  };
}
