/**
 * Distributed tracing with OpenTelemetry: one registration is one trace, from the client's
 * request through the gateway's query plan, each subgraph, MongoDB, the payment call behind the
 * breaker, the outbox publish, NATS (W3C trace context in message headers) and every consumer, to
 * the gateway's subscription delivery.
 *
 * Off by default, and free when off: nothing here loads the SDK unless {@link startTracing} finds
 * an exporter asked for by the standard variables (`OTEL_TRACES_EXPORTER`, or
 * `OTEL_EXPORTER_OTLP_ENDPOINT` / `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`); until then every helper
 * returns at once (no span, no header, and span options given as a function are never built),
 * and what is left runs on the `@opentelemetry/api` no-ops.
 * Everything else the SDK reads is the standard set too (`OTEL_SERVICE_NAME`,
 * `OTEL_EXPORTER_OTLP_PROTOCOL`, `OTEL_TRACES_SAMPLER`, `OTEL_RESOURCE_ATTRIBUTES`, ...):
 * https://opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/
 *
 * Span names and attributes follow the OpenTelemetry semantic conventions for HTTP servers,
 * messaging (`publish` / `process` spans, `messaging.*`) and GraphQL (`graphql.operation.*`).
 * Each service's own spans come from a tracer named after the service, so in-process tests
 * (one SDK for every service) still tell the services apart by instrumentation scope.
 */
import type { ApolloServerPlugin, BaseContext } from '@apollo/server';
import {
  context,
  createContextKey,
  INVALID_SPAN_CONTEXT,
  isSpanContextValid,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Context,
  type Span,
  type SpanOptions,
  type Tracer,
} from '@opentelemetry/api';

export type { Context as TraceContext, Span, Tracer };
export { SpanKind };

/** W3C trace context of a change as stored with its events: `traceparent` (and `tracestate`) header values. */
export type TraceCarrier = Record<string, string>;

/** A started tracing SDK; `shutdown` flushes what is buffered (call it on stop). */
export interface TracingHandle {
  shutdown(): Promise<void>;
}

/** Set once an SDK is started here: until then every helper takes its no-op path at once. */
let enabled = false;
/** The span handed to `inSpan`'s function while tracing is off (records nothing). */
const NOT_RECORDING = trace.wrapSpanContext(INVALID_SPAN_CONTEXT);

/** True once {@link startTracing} has started the SDK in this process. */
export function tracingEnabled(): boolean {
  return enabled;
}

/** True when the environment asks for traces to be exported (see the module comment). */
export function tracingRequested(env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.OTEL_SDK_DISABLED === 'true') return false;
  const exporter = env.OTEL_TRACES_EXPORTER?.trim();
  if (exporter) return exporter !== 'none';
  return Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
}

/** What a test may set instead of the `OTEL_*` exporter variables. */
export interface TracingOverrides {
  /** Span processors to use in place of the exporter the variables name (e.g. an in-memory one). */
  spanProcessors: NonNullable<ConstructorParameters<typeof import('@opentelemetry/sdk-node').NodeSDK>[0]>['spanProcessors'];
}

/**
 * Starts the OpenTelemetry Node SDK for `service` when {@link tracingRequested} (or when a test
 * gives `overrides`): exporter, sampler and resource from the `OTEL_*` variables, W3C
 * trace-context propagation, and the MongoDB driver instrumentation (which mongoose runs on).
 * Call it before anything loads mongoose, so that the driver is instrumented (each service's
 * `main.ts` does, through runService).
 * @returns the handle, or undefined when tracing is off (nothing was loaded).
 */
export async function startTracing(
  service: string,
  env: NodeJS.ProcessEnv = process.env,
  overrides?: TracingOverrides,
): Promise<TracingHandle | undefined> {
  if (!overrides && !tracingRequested(env)) return undefined;
  const [{ NodeSDK }, { MongoDBInstrumentation }] = await Promise.all([
    import('@opentelemetry/sdk-node'),
    import('@opentelemetry/instrumentation-mongodb'),
  ]);
  const sdk = new NodeSDK({
    serviceName: env.OTEL_SERVICE_NAME ?? service,
    instrumentations: [new MongoDBInstrumentation()],
    // Traces only: metrics are Prometheus' (`/metrics`), logs are pino's lines on stdout.
    metricReaders: [],
    logRecordProcessors: [],
    ...(overrides ? { spanProcessors: overrides.spanProcessors } : {}),
  });
  sdk.start();
  enabled = true;
  return sdk;
}

/** The tracer of one service's own spans (instrumentation scope = the service name). */
export function tracerOf(service: string): Tracer {
  return trace.getTracer(service);
}

/** A span's options, and the context it is a child of (default: the active one). */
export type InSpanOptions = SpanOptions & { parent?: Context };

/**
 * Runs `fn` inside a new span (a child of `parent`, else of the active context) and ends it when
 * `fn` settles; a thrown error is recorded on the span and thrown again. Options that cost
 * something to build (attributes, a parent read from headers) can be given as a function: it
 * runs only when tracing is on.
 */
export async function inSpan<T>(
  tracer: Tracer,
  name: string,
  options: InSpanOptions | (() => InSpanOptions),
  fn: (span: Span) => Promise<T> | T,
): Promise<T> {
  if (!enabled) return fn(NOT_RECORDING);
  const { parent, ...spanOptions } = typeof options === 'function' ? options() : options;
  return tracer.startActiveSpan(name, spanOptions, parent ?? context.active(), async (span) => {
    try {
      if (spanOptions.kind === SpanKind.SERVER && span.isRecording())
        return await context.with(withServerSpan(context.active(), span), () => fn(span));
      return await fn(span);
    } catch (err) {
      span.recordException(err as Error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error)?.message });
      throw err;
    } finally {
      span.end();
    }
  });
}

/**
 * Starts a span under `parent` that the caller ends, and returns it with the context that has it
 * active (to hand to work done later, elsewhere). Both undefined when the span is not recorded.
 */
export function startRecordedSpan(
  tracer: Tracer,
  name: string,
  options: () => InSpanOptions & { parent: Context },
): { span: Span; context: Context } | undefined {
  if (!enabled) return undefined;
  const { parent, ...spanOptions } = options();
  const span = tracer.startSpan(name, spanOptions, parent);
  if (!span.isRecording()) return undefined;
  return { span, context: trace.setSpan(parent, span) };
}

/** Writes the active (or given) context's W3C headers (`traceparent`, `tracestate`) into `carrier`. */
export function injectTrace<C extends Record<string, string>>(carrier: C, ctx?: Context): C {
  if (enabled) propagation.inject(ctx ?? context.active(), carrier);
  return carrier;
}

/** The W3C trace context of the active span as a storable carrier, or undefined when nothing is traced. */
export function currentTraceCarrier(): TraceCarrier | undefined {
  if (!enabled) return undefined;
  const span = trace.getActiveSpan();
  if (!span || !isSpanContextValid(span.spanContext())) return undefined;
  return injectTrace({});
}

/**
 * `events`, each stamped with the active span's W3C context (`traceContext`) when a trace is being
 * recorded, so that their publish (now, or by a sweeper later) joins the trace of the change that
 * raised them. Unchanged when nothing is traced.
 */
export function withTraceContext<E extends object>(events: readonly E[]): Array<E & { traceContext?: TraceCarrier }> {
  const traceContext = currentTraceCarrier();
  return traceContext ? events.map((e) => ({ ...e, traceContext })) : (events as E[]);
}

/** The context a carrier names (headers read through `get`), on top of the root context. */
export function extractTrace(get: (key: string) => string | undefined): Context {
  return propagation.extract(ROOT_CONTEXT, null, {
    get: (_carrier, key) => get(key),
    keys: () => [],
  });
}

/** `{ trace_id, span_id }` of the active span, for log lines (empty when nothing is traced). */
export function traceFields(): { trace_id?: string; span_id?: string } {
  if (!enabled) return {};
  const span = trace.getActiveSpan();
  if (!span) return {};
  const c = span.spanContext();
  return isSpanContextValid(c) ? { trace_id: c.traceId, span_id: c.spanId } : {};
}

const SERVER_SPAN = createContextKey('courses.http-server-span');

/** `ctx` with `span` marked as the HTTP server span of the request (see {@link graphqlSpanPlugin}). */
function withServerSpan(ctx: Context, span: Span): Context {
  return ctx.setValue(SERVER_SPAN, span);
}

/**
 * Apollo Server plugin: names the request's HTTP server span after its GraphQL operation
 * (`mutation registerForLecture`) and sets `graphql.operation.type` / `graphql.operation.name`.
 * Does nothing for a request that is not traced, or that no HTTP request carries (the
 * gateway's own executions for subscriptions run in spans of their own).
 */
export function graphqlSpanPlugin<Ctx extends BaseContext>(): ApolloServerPlugin<Ctx> {
  return {
    async requestDidStart() {
      const span = context.active().getValue(SERVER_SPAN) as Span | undefined;
      if (!span?.isRecording()) return;
      return {
        async didResolveOperation({ operation, operationName }) {
          const type = operation?.operation ?? 'query';
          span.updateName(operationName ? `${type} ${operationName}` : type);
          span.setAttributes({ 'graphql.operation.type': type, ...(operationName ? { 'graphql.operation.name': operationName } : {}) });
        },
      };
    },
  };
}
