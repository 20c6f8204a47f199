/**
 * Tracing as a deployment turns it on: a service process (payment, from its build, started the
 * way the image starts it) configured only by the standard OpenTelemetry variables exports its
 * spans over OTLP/HTTP to the endpoint they name, MongoDB driver spans included (the SDK starts
 * before anything loads mongoose: @courses/platform/entry). Without the variables it exports
 * nothing. The collector here is a plain HTTP server that keeps what it is sent (OTLP JSON).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { eventually } from '@courses/devkit/graphql-client';
import { freePort } from '@courses/devkit/provision';
import { chargeSecret, DEV_GATEWAY_SECRET } from '@courses/platform';
import { mongoUri, uniqueTag } from '@courses/test-kit/env';
import { startOwnNatsServer, type OwnNatsServer } from '@courses/test-kit/nats-server';

interface ExportedSpan {
  service: string;
  scope: string;
  name: string;
  traceId: string;
}

const received: ExportedSpan[] = [];
let requests = 0;
let collector: http.Server;
let collectorUrl: string;
let nats: OwnNatsServer;
const children: ChildProcess[] = [];

beforeAll(async () => {
  collector = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      requests++;
      if (req.url === '/v1/traces') {
        const data = JSON.parse(body) as {
          resourceSpans: Array<{
            resource: { attributes: Array<{ key: string; value: { stringValue?: string } }> };
            scopeSpans: Array<{ scope: { name: string }; spans: Array<{ name: string; traceId: string }> }>;
          }>;
        };
        for (const rs of data.resourceSpans) {
          const service = rs.resource.attributes.find((a) => a.key === 'service.name')?.value.stringValue ?? '';
          for (const ss of rs.scopeSpans)
            for (const s of ss.spans) received.push({ service, scope: ss.scope.name, name: s.name, traceId: s.traceId });
        }
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    });
  });
  await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
  collectorUrl = `http://127.0.0.1:${(collector.address() as AddressInfo).port}`;
  nats = await startOwnNatsServer();
});
afterAll(async () => {
  for (const c of children) c.kill('SIGTERM');
  await new Promise<void>((resolve) => collector.close(() => resolve()));
  await nats.dispose();
});

/** Starts payment from its build with `env` on top of what it needs; resolves with its URL once ready. */
async function startPayment(env: Record<string, string>): Promise<string> {
  const port = await freePort();
  const child = spawn(process.execPath, [fileURLToPath(new URL('../../subgraphs/payment/dist/main.js', import.meta.url))], {
    env: {
      PATH: process.env.PATH,
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      NATS_URL: nats.url,
      NATS_NAMESPACE: nats.namespace,
      ...nats.credentials('payment'),
      MONGODB_URI: mongoUri(uniqueTag('otlp')),
      ...env,
    },
    stdio: 'ignore',
  });
  children.push(child);
  const url = `http://127.0.0.1:${port}`;
  await eventually(async () => (await fetch(`${url}/health/ready`).catch(() => undefined))?.ok, 30_000, 'payment ready');
  return url;
}

const charge = (url: string, registrationId: string) =>
  fetch(`${url}/internal/charges`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-gateway-secret': chargeSecret(DEV_GATEWAY_SECRET) },
    body: JSON.stringify({ registrationId, studentId: 's-otlp', lectureId: 'l-otlp', amount: 10_000 }),
  });

it('exports a charge as one trace over OTLP, with the MongoDB driver spans, when OTEL_EXPORTER_OTLP_ENDPOINT is set', async () => {
  const url = await startPayment({
    OTEL_EXPORTER_OTLP_ENDPOINT: collectorUrl,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
    OTEL_BSP_SCHEDULE_DELAY: '100',
  });
  expect((await charge(url, 'r-otlp-1')).status).toBe(200);
  const server = await eventually(async () => received.find((s) => s.name === 'POST /internal/charges'), 15_000, 'the charge request span');
  expect(server.service).toBe('payment');
  expect(server.scope).toBe('payment');
  const trace = await eventually(async () => {
    const spans = received.filter((s) => s.traceId === server.traceId);
    return (
      spans.some((s) => s.scope === '@opentelemetry/instrumentation-mongodb') && spans.some((s) => s.name.startsWith('publish ')) && spans
    );
  }, 15_000);
  expect(trace.map((s) => s.name)).toEqual(
    expect.arrayContaining(['insert payments', expect.stringMatching(/^publish .*payment\.completed$/)]),
  );
  // A graceful stop flushes what is left (runService shuts the SDK down), then nothing more comes.
  const child = children.pop()!;
  child.kill('SIGTERM');
  await new Promise((resolve) => child.once('exit', resolve));
});

it('exports nothing when no OTEL_* variable asks for it', async () => {
  const before = requests;
  const url = await startPayment({});
  expect((await charge(url, 'r-otlp-2')).status).toBe(200);
  // A graceful stop would flush whatever a tracing SDK held: once the process has exited, nothing more can come.
  const child = children.pop()!;
  child.kill('SIGTERM');
  await new Promise((resolve) => child.once('exit', resolve));
  expect(requests).toBe(before);
});
