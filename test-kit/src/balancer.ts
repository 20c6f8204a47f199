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

/**
 * The replicas a balancer routes to: readiness probing (one probe at a time per replica, every
 * `probeMs`) and round-robin picking among the ready ones.
 */
class Endpoints {
  private readonly ready: Map<string, boolean>;
  private readonly slow = new Map<string, number>();
  private readonly probing = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private next = 0;

  constructor(
    private readonly targets: string[],
    private readonly opts: BalancerOptions,
  ) {
    this.ready = new Map(targets.map((t) => [t, !this.readinessOn]));
  }

  private get readinessOn(): boolean {
    return this.opts.readiness ?? true;
  }

  /** Probes every replica once, then every `probeMs` (nothing when readiness is off). */
  async start(): Promise<void> {
    if (!this.readinessOn) return;
    this.timer = setInterval(() => this.targets.forEach((t) => void this.probe(t)), this.opts.probeMs ?? 100);
    await Promise.all(this.targets.map((t) => this.probe(t)));
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private async probe(target: string): Promise<void> {
    // One probe at a time per replica: a stalled one is counted once per timeout, not per period.
    if (this.probing.has(target)) return;
    this.probing.add(target);
    try {
      const res = await fetch(`${target}/health/ready`, { signal: AbortSignal.timeout(500) });
      await res.arrayBuffer();
      this.ready.set(target, res.ok);
      this.slow.set(target, 0);
    } catch (err) {
      const timedOut = (err as Error).name === 'TimeoutError';
      const n = timedOut ? (this.slow.get(target) ?? 0) + 1 : Infinity;
      this.slow.set(target, timedOut ? n : 0);
      if (n >= (this.opts.failureThreshold ?? 3)) this.ready.set(target, false);
    } finally {
      this.probing.delete(target);
    }
  }

  /** The next endpoint, round-robin; undefined when none is ready. */
  pick(): string | undefined {
    for (let i = 0; i < this.targets.length; i++) {
      const t = this.targets[this.next++ % this.targets.length];
      if (this.ready.get(t)) return t;
    }
    return undefined;
  }

  /** Replica URLs routed to now. */
  list(): string[] {
    return this.targets.filter((t) => this.ready.get(t));
  }
}

/**
 * What the proxy does when a replica does not answer: a 502 to an HTTP client, a closed socket to
 * an upgrade; `onFailed` counts it. A WebSocket that had switched already ends as the client's own.
 */
function onProxyError(onFailed: () => void) {
  return (_err: Error, _req: unknown, res: http.ServerResponse | Socket | undefined) => {
    // A WebSocket already switched (its 101 written to the client) that the replica then closed
    // abruptly, as a stopping replica may: the connection ends as the client's own would, not a
    // request no replica answered (the client reconnects, through the balancer, to another).
    if (!(res instanceof http.ServerResponse) && res?.bytesWritten) {
      res.destroy();
      return;
    }
    onFailed();
    if (res instanceof http.ServerResponse) {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ errors: [{ message: 'no replica answered', extensions: { code: 'BAD_GATEWAY' } }] }));
    } else res?.destroy();
  };
}

/** Starts a balancer on a free 127.0.0.1 port in front of `targets` (base URLs). */
export async function startBalancer(targets: string[], opts: BalancerOptions = {}): Promise<Balancer> {
  const endpoints = new Endpoints(targets, opts);
  let failed = 0;
  let routed = 0;
  await endpoints.start();

  const proxy = createProxyServer({ xfwd: true });
  proxy.on(
    'error',
    onProxyError(() => failed++),
  );

  const server = http.createServer((req, res) => {
    const target = endpoints.pick();
    if (!target) {
      failed++;
      res.writeHead(503, { 'content-type': 'application/json' });
      return void res.end(JSON.stringify({ errors: [{ message: 'no ready replica', extensions: { code: 'SERVICE_UNAVAILABLE' } }] }));
    }
    routed++;
    proxy.web(req, res, { target });
  });
  server.on('upgrade', (req, socket: Socket, head) => {
    const target = endpoints.pick();
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
      return endpoints.list();
    },
    async stop() {
      endpoints.stop();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      proxy.close();
    },
  };
}
