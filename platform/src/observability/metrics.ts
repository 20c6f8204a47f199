/** Prometheus metrics (prom-client): one registry per service, default process metrics included. */
import type { ApolloServerPlugin, BaseContext } from '@apollo/server';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** The metrics a service host and its event plumbing record. */
export interface ServiceMetrics {
  registry: Registry;
  /** HTTP requests by route and status code. */
  httpRequests: Counter<'route' | 'status'>;
  /** HTTP request duration in seconds by route. */
  httpDuration: Histogram<'route'>;
  /** Events handled by consumers, by durable name, event type and outcome (ack, nak, term). */
  eventsConsumed: Counter<'durable' | 'type' | 'outcome'>;
  /** Outbox events published, by event type. */
  eventsPublished: Counter<'type'>;
  /** Database commands sent (driver command monitoring), by command name and collection. */
  dbCommands: Counter<'command' | 'collection'>;
  /** Events delivered again to a durable consumer (delivery count above 1), by durable name. */
  eventsRedelivered: Counter<'durable'>;
}

/** Creates a fresh registry labelled with `service`. */
export function createMetrics(service: string): ServiceMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    httpRequests: new Counter({
      name: 'http_requests_total',
      help: 'HTTP requests',
      labelNames: ['route', 'status'],
      registers: [registry],
    }),
    httpDuration: new Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP request duration (s)',
      labelNames: ['route'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    eventsConsumed: new Counter({
      name: 'events_consumed_total',
      help: 'Events handled by durable consumers',
      labelNames: ['durable', 'type', 'outcome'],
      registers: [registry],
    }),
    eventsPublished: new Counter({
      name: 'events_published_total',
      help: 'Outbox events published',
      labelNames: ['type'],
      registers: [registry],
    }),
    dbCommands: new Counter({
      name: 'db_commands_total',
      help: 'Database commands sent by this process (driver command monitoring)',
      labelNames: ['command', 'collection'],
      registers: [registry],
    }),
    eventsRedelivered: new Counter({
      name: 'events_redelivered_total',
      help: 'Events delivered again to a durable consumer (not acked in time, or nak-ed)',
      labelNames: ['durable'],
      registers: [registry],
    }),
  };
}

/** A gauge without labels (or with `labelNames`) whose values `read` sets at each scrape. */
export function serviceGauge<L extends string = never>(
  metrics: ServiceMetrics,
  name: string,
  help: string,
  read: (gauge: Gauge<L>) => void | Promise<void>,
  labelNames: readonly L[] = [],
): Gauge<L> {
  return new Gauge<L>({
    name,
    help,
    labelNames,
    registers: [metrics.registry],
    async collect() {
      await read(this);
    },
  });
}

/**
 * A label for client-chosen names (operation names) that keeps a metric's series bounded: the
 * first `maxNames` distinct names as they are, later ones `other`, none `anonymous`.
 */
export function boundedLabel(maxNames: number): (name: string | null | undefined) => string {
  const names = new Set<string>();
  return (name) => {
    if (!name) return 'anonymous';
    if (names.has(name)) return name;
    if (names.size >= maxNames) return 'other';
    names.add(name);
    return name;
  };
}

/**
 * Apollo Server plugin: `graphql_operations_total{type, operation, status}` (status `ok` or
 * `error`: any error in the response) and `graphql_operation_duration_seconds{type, operation}`.
 * Operation names are the client's: past `maxNames` distinct ones, new names count as `other`,
 * so that no client can grow the label set without bound; unnamed ones are `anonymous`, and
 * documents that do not parse or validate are `invalid`.
 */
export function operationMetricsPlugin<Ctx extends BaseContext>(metrics: ServiceMetrics, maxNames = 200): ApolloServerPlugin<Ctx> {
  const operations = new Counter({
    name: 'graphql_operations_total',
    help: 'GraphQL operations answered, by type, operation name and status',
    labelNames: ['type', 'operation', 'status'],
    registers: [metrics.registry],
  });
  const duration = new Histogram({
    name: 'graphql_operation_duration_seconds',
    help: 'GraphQL operation duration (s), by type and operation name',
    labelNames: ['type', 'operation'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [metrics.registry],
  });
  const label = boundedLabel(maxNames);
  return {
    async requestDidStart() {
      const started = performance.now();
      let type = 'unknown';
      let operation = 'invalid';
      return {
        async didResolveOperation({ operation: op, operationName }) {
          type = op?.operation ?? 'unknown';
          operation = label(operationName);
        },
        async willSendResponse({ response }) {
          const errors = response.body.kind === 'single' ? response.body.singleResult.errors : undefined;
          operations.inc({ type, operation, status: errors?.length ? 'error' : 'ok' });
          duration.observe({ type, operation }, (performance.now() - started) / 1000);
        },
      };
    },
  };
}

/** A counter without labels, registered in `metrics`' registry (for a service's own figures). */
export function serviceCounter(metrics: ServiceMetrics, name: string, help: string): Counter {
  return new Counter({ name, help, registers: [metrics.registry] });
}
