/**
 * Graceful shutdown: a request in flight when stop() begins still completes, readiness turns
 * 503 at once (so a load balancer stops routing), and new connections are refused after.
 * Uses the payment subgraph with a 700 ms simulated charge as the slow request.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chargeSecret, DEV_GATEWAY_SECRET } from '@courses/platform';
import { startSubgraphHarness, type SubgraphHarness } from '@courses/test-kit/subgraph';
import { startPaymentService } from '../../subgraphs/payment/src/wiring.js';

let h: SubgraphHarness<Awaited<ReturnType<typeof startPaymentService>>>;
beforeAll(async () => {
  h = await startSubgraphHarness('payment', startPaymentService, { PAYMENT_LATENCY_MS: '700', SHUTDOWN_GRACE_MS: '5000' });
});
afterAll(async () => h?.stop());

describe('graceful shutdown', () => {
  it('finishes the in-flight request, closes kept-alive connections, then refuses connections', async () => {
    const url = h.service.url;
    expect((await fetch(`${url}/health/ready`)).status).toBe(200);
    // A client with a pooled keep-alive connection, as the gateway has.
    const http = await import('node:http');
    const agent = new http.Agent({ keepAlive: true });
    const get = (path: string) =>
      new Promise<number>((resolve, reject) =>
        http.get(`${url}${path}`, { agent }, (r) => (r.resume(), r.on('end', () => resolve(r.statusCode!)))).on('error', reject),
      );
    expect(await get('/health/live')).toBe(200);
    // The slow request travels on that pooled connection, busy while the stop begins.
    const server = h.service.host.server;
    const arrived = new Promise<void>((resolve) => {
      const seen = (req: { url?: string }) => {
        if (req.url !== '/internal/charges') return;
        server.off('request', seen);
        resolve();
      };
      server.on('request', seen);
    });
    const inFlight = new Promise<{ status: number; json: () => Promise<unknown> }>((resolve, reject) => {
      const req = http.request(
        `${url}/internal/charges`,
        { method: 'POST', agent, headers: { 'content-type': 'application/json', 'x-gateway-secret': chargeSecret(DEV_GATEWAY_SECRET) } },
        (r) => {
          let body = '';
          r.on('data', (c) => (body += c));
          r.on('end', () => resolve({ status: r.statusCode!, json: async () => JSON.parse(body) }));
        },
      );
      req.on('error', reject);
      req.end(JSON.stringify({ registrationId: 'r-graceful', studentId: 's', lectureId: 'l', amount: 1 }));
    });
    // The request has reached the server before the stop begins.
    await arrived;
    expect(h.service.host.inFlight).toBe(1);
    const stopping = h.service.host.stop();
    expect(h.service.host.draining).toBe(true);
    const res = await inFlight;
    expect(res.status).toBe(200);
    expect(((await res.json()) as { paymentId?: string }).paymentId).toMatch(/^[0-9a-f]{24}$/);
    await stopping;
    await expect(fetch(`${url}/health/live`)).rejects.toThrow();
    // No connection outlives the stop (a kept-alive one would be served by a stopped server).
    const open = await new Promise<number>((resolve) => h.service.host.server.getConnections((_e, n) => resolve(n)));
    expect(open).toBe(0);
  });

  it('with SHUTDOWN_DELAY_MS, goes on serving, not ready, for that long before it stops accepting', async () => {
    const d = await startSubgraphHarness('payment', startPaymentService, { SHUTDOWN_DELAY_MS: '600' });
    const url = d.service.url;
    const stopping = d.service.host.stop();
    const ready = await fetch(`${url}/health/ready`);
    expect(ready.status).toBe(503);
    expect(((await ready.json()) as { checks: { accepting: boolean } }).checks.accepting).toBe(false);
    // Still answering while load balancers notice.
    expect((await fetch(`${url}/health/live`)).status).toBe(200);
    await stopping;
    await d.stop();
    await expect(fetch(`${url}/health/live`)).rejects.toThrow();
  });
});
