/**
 * Observability (issue 9). Tracing: one registration is one trace, across the gateway, the four
 * subgraphs and NATS. The services run in this process under one OpenTelemetry SDK started the
 * way every service starts it (startTracing), with an in-memory exporter in place of OTLP; each
 * service's own spans carry its name as instrumentation scope. Metrics: what the Grafana
 * dashboard (deploy/observability) reads is there. Logs: lines written in a span name its trace.
 */
import { readFileSync } from 'node:fs';
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { collect, eventually, gqlOk, wsClient } from '@courses/devkit/graphql-client';
import { inSpan, startTracing, traceFields, tracerOf, type TracingHandle } from '@courses/platform/tracing';
import type { TestSystem } from '@courses/test-kit/system';

const exporter = new InMemorySpanExporter();
let tracing: TracingHandle | undefined;
let sys: TestSystem;

beforeAll(async () => {
  // Before anything loads mongoose, so that the MongoDB driver is instrumented.
  tracing = await startTracing('tests', {}, { spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const { startSystem } = await import('@courses/test-kit/system');
  sys = await startSystem();
});
afterAll(async () => {
  await sys?.stop();
  await tracing?.shutdown();
});

/** Stands for any span of the MongoDB driver's instrumentation (`insert registrations`, `find lectures`, ...). */
const MONGODB = 'MongoDB driver';
const SERVICES = ['gateway', 'registration', 'payment', 'lecture', 'dashboard'];

/** The service a span belongs to: its own scope, or its nearest ancestor's that names a service. */
function serviceOf(span: ReadableSpan, byId: Map<string, ReadableSpan>): string | undefined {
  for (let s: ReadableSpan | undefined = span; s; s = byId.get(s.parentSpanContext?.spanId ?? '')) {
    if (SERVICES.includes(s.instrumentationScope.name)) return s.instrumentationScope.name;
  }
  return undefined;
}

it("starts a trace of its own for each client request: a client's traceparent picks neither the trace nor the sampling", async () => {
  const clientTrace = '4bf92f3577b34da6a3ce929d0e0e4736';
  /** The trace ids of the gateway's operation spans for one query sent to `url` with the client's traceparent. */
  const tracesOf = async (url: string) => {
    exporter.reset();
    const res = await fetch(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', traceparent: `00-${clientTrace}-00f067aa0ba902b7-01` },
      body: JSON.stringify({ query: '{ lectures(first: 1) { totalCount } }' }),
    });
    expect(res.status).toBe(200);
    const op = await eventually(async () =>
      exporter.getFinishedSpans().find((s) => s.instrumentationScope.name === 'gateway' && s.name.startsWith('query')),
    );
    return { op: op.spanContext().traceId, all: new Set(exporter.getFinishedSpans().map((s) => s.spanContext().traceId)) };
  };
  const edge = await tracesOf(sys.url);
  expect(edge.op).not.toBe(clientTrace);
  expect(edge.all.has(clientTrace)).toBe(false);
  // What the setting turns on, for clients of one's own that trace end to end.
  const { startGateway } = await import('../../gateway/src/app.js'); // after tracing started, as the system
  const trusting = await startGateway({ ...sys.envOf('gateway'), PORT: '0', TRUST_CLIENT_TRACEPARENT: 'true' });
  try {
    expect((await tracesOf(trusting.url)).op).toBe(clientTrace);
  } finally {
    await trusting.stop();
  }
});

it('one registration is one trace: gateway, query plan, subgraphs, MongoDB, payment breaker, outbox, NATS, consumers and the subscriber', async () => {
  const instructor = await sys.token('INSTRUCTOR', 'i-trace');
  const student = await sys.token('STUDENT', 's-trace');
  const lectureId = await sys.openLecture(instructor, 'Tracing 101', 10, 30_000);
  await sys.waitForCatalog(lectureId);
  const ws = wsClient(sys.url, student);
  const feed = collect(ws, 'subscription { registrationStatusChanged { id status } }');
  await eventually(async () => sys.gateway.hub.listeners >= 2, 5_000, 'subscription listening');
  exporter.reset();

  const registration = await sys.register(lectureId, student);
  expect(registration.status).toBe('CONFIRMED');
  // The subscriber's next, and the dashboard's projection of the registration.
  await feed.waitFor(1, 15_000);
  await eventually(async () => {
    const d = await gqlOk<{ myDashboard: Array<{ registrationId: string }> }>(sys.url, '{ myDashboard { registrationId } }', {}, student);
    return d.myDashboard.some((e) => e.registrationId === registration.id);
  });

  // The trace whose root is the gateway's span of the mutation.
  const spansOf = () => exporter.getFinishedSpans();
  const root = await eventually(async () =>
    spansOf().find((s) => s.instrumentationScope.name === 'gateway' && s.name.startsWith('mutation') && !s.parentSpanContext),
  );
  const traceId = root.spanContext().traceId;
  const expected = [
    ['gateway', 'gateway.plan'],
    ['gateway', 'gateway.fetch'],
    ['registration', 'mutation'],
    ['registration', MONGODB],
    ['registration', 'payment charge'],
    ['payment', 'POST /internal/charges'],
    ['payment', MONGODB],
    ['registration', 'publish'],
    ['payment', 'publish'],
    ['lecture', 'process'],
    ['lecture', MONGODB],
    ['dashboard', 'process'],
    ['dashboard', MONGODB],
    ['gateway', 'process'],
    ['gateway', 'subscription next registrationStatusChanged'],
  ] as const;
  const trace = await eventually(
    async () => {
      const spans = spansOf().filter((s) => s.spanContext().traceId === traceId);
      const byId = new Map(spans.map((s) => [s.spanContext().spanId, s]));
      const found = (service: string, prefix: string) =>
        spans.some(
          (s) =>
            serviceOf(s, byId) === service &&
            (prefix === MONGODB ? s.instrumentationScope.name === '@opentelemetry/instrumentation-mongodb' : s.name.startsWith(prefix)),
        );
      return expected.every(([service, prefix]) => found(service, prefix)) ? { spans, byId } : undefined;
    },
    15_000,
    'every expected span in the trace',
  ).catch(() => {
    const spans = spansOf().filter((s) => s.spanContext().traceId === traceId);
    const byId = new Map(spans.map((s) => [s.spanContext().spanId, s]));
    throw new Error(
      `the trace lacks spans; it has:\n${spans.map((s) => `${serviceOf(s, byId)} ${s.instrumentationScope.name} ${s.name}`).join('\n')}`,
    );
  });

  // One tree: every span but the root has its parent in the trace.
  for (const s of trace.spans) if (s !== root) expect(trace.byId.has(s.parentSpanContext?.spanId ?? ''), `parent of ${s.name}`).toBe(true);
  // NATS carried the context: each consumer's span is a child of a publish span of another service.
  const consumed = trace.spans.filter((s) => s.name.startsWith('process '));
  for (const s of consumed) {
    const parent = trace.byId.get(s.parentSpanContext!.spanId)!;
    expect(parent.name, `parent of ${serviceOf(s, trace.byId)}'s ${s.name}`).toMatch(/^publish /);
  }
  // The charge went through the breaker (closed) and was completed.
  const charge = trace.spans.find((s) => s.name === 'payment charge')!;
  expect(charge.attributes).toMatchObject({ 'payment.breaker.state': 'closed', 'payment.outcome': 'completed' });
  feed.stop();
  await ws.dispose();
});

it('log lines written inside a span carry its trace_id and span_id', async () => {
  const tracer = tracerOf('tests');
  const fields = await inSpan(tracer, 'logged', {}, (span) => ({ logged: traceFields(), span: span.spanContext() }));
  expect(fields.logged).toEqual({ trace_id: fields.span.traceId, span_id: fields.span.spanId });
  expect(traceFields()).toEqual({});
});

it('exposes what the dashboard reads: operations by name, live subscriptions, consumer lag, redeliveries, outbox age', async () => {
  const student = await sys.token('STUDENT', 's-metrics');
  const ws = wsClient(sys.url, student);
  const feed = collect(ws, 'subscription { registrationStatusChanged { id status } }');
  const metrics = (url: string) => fetch(`${url}/metrics`).then((r) => r.text());
  await gqlOk(sys.url, 'query CatalogForMetrics { lectures(first: 1) { totalCount } }');
  await eventually(async () => /^graphql_subscriptions_active\{[^}]*\} 1$/m.test(await metrics(sys.url)), 5_000, 'one live subscription');
  const gateway = await metrics(sys.url);
  expect(gateway).toMatch(/^graphql_operations_total\{[^}]*type="query",operation="CatalogForMetrics",status="ok"[^}]*\} 1$/m);
  expect(gateway).toMatch(/^graphql_operation_duration_seconds_count\{[^}]*operation="CatalogForMetrics"[^}]*\} 1$/m);
  expect(gateway).toMatch(/^graphql_ws_connections\{[^}]*\} 1$/m);
  // Everything the registration test published has been delivered to the lecture's consumer.
  const lecture = await eventually(async () => {
    const text = await metrics(sys.services.lecture.url);
    return /^consumer_pending_messages\{[^}]*durable="lecture-enrolment"[^}]*\} 0$/m.test(text) && text;
  });
  expect(lecture).toMatch(/^consumer_unacked_messages\{[^}]*durable="lecture-enrolment"[^}]*\} \d+$/m);
  expect(lecture).toMatch(/^outbox_oldest_claim_age_seconds\{[^}]*\} [\d.e-]+$/m);
  expect(lecture).toMatch(/^# TYPE events_redelivered_total counter$/m);
  expect(await metrics(sys.services.registration.url)).toMatch(/^payment_breaker_state\{[^}]*\} 0$/m);
  feed.stop();
  await ws.dispose();
  await eventually(async () => /^graphql_subscriptions_active\{[^}]*\} 0$/m.test(await metrics(sys.url)), 5_000, 'no live subscription');
});

it('has a Grafana dashboard that reads only metrics the services expose', async () => {
  const dashboard = JSON.parse(
    readFileSync(new URL('../../deploy/observability/grafana/dashboards/supergraph.json', import.meta.url), 'utf8'),
  );
  const exprs: string[] = dashboard.panels.flatMap((p: { targets: Array<{ expr: string }> }) => p.targets.map((t) => t.expr));
  const urls = [sys.url, ...Object.values(sys.services).map((s) => s.url)];
  const exposed = (await Promise.all(urls.map((u) => fetch(`${u}/metrics`).then((r) => r.text())))).join('\n');
  const names = new Set(exprs.flatMap((e) => e.match(/\b[a-z]+(?:_[a-z]+)+\b(?=[{[)\s])/g) ?? []));
  for (const fn of ['histogram_quantile']) names.delete(fn);
  expect(names.size).toBeGreaterThan(8);
  for (const name of names)
    expect(exposed, `the dashboard reads ${name}`).toMatch(new RegExp(`^# TYPE ${name.replace(/_bucket$/, '')} `, 'm'));
});
