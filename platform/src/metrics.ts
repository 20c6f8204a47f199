/** Prometheus metrics (prom-client): one registry per service, default process metrics included. */
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';

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
  };
}

/** A counter without labels, registered in `metrics`' registry (for a service's own figures). */
export function serviceCounter(metrics: ServiceMetrics, name: string, help: string): Counter {
  return new Counter({ name, help, registers: [metrics.registry] });
}
