/**
 * Fan-out of domain events to the gateway's subscribers.
 *
 * One core NATS subscription per context subject (`registration.>`, `payment.>`,
 * `lecture.>`) per gateway process, shared by every client and opened lazily; it closes
 * when the last listener leaves. Core subscriptions (not a durable) mean every gateway
 * replica sees every event and delivers it to its own clients; live notifications are not
 * replayed after a gateway restart (state stays queryable).
 *
 * A traced event (W3C `traceparent` in its message headers) is received in a consumer span
 * `process <subject>`; {@link traceOfEvent} hands that span's context to the subscription
 * deliveries the event causes, so they join the trace of the change that raised it.
 */
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { parseEvent, type Context, type EventEnvelope } from '@courses/contracts';
import { extractTrace, SpanKind, startRecordedSpan, tracerOf, type Logger, type TraceContext } from '@courses/platform';

export type EventListener = (event: EventEnvelope) => void;

const tracer = tracerOf('gateway');
const traced = new WeakMap<EventEnvelope, TraceContext>();

/** The trace context of the span in which the gateway received `event`, if it was traced. */
export function traceOfEvent(event: EventEnvelope): TraceContext | undefined {
  return traced.get(event);
}

/** Lets `copy`, an event derived from `original` (see SubscriptionRoute.expand), join `original`'s trace. */
export function inheritTrace(copy: EventEnvelope, original: EventEnvelope): void {
  const t = traced.get(original);
  if (t) traced.set(copy, t);
}

export class EventHub {
  private readonly subs = new Map<Context, { sub: Subscription; listeners: Set<EventListener> }>();

  constructor(
    private readonly nc: NatsConnection,
    private readonly namespace: string,
    private readonly logger: Logger,
  ) {}

  /** Listens to every event of `context`; returns the function that stops listening. */
  listen(context: Context, listener: EventListener): () => void {
    let entry = this.subs.get(context);
    if (!entry) {
      const subject = this.namespace ? `${this.namespace}.${context}.>` : `${context}.>`;
      const listeners = new Set<EventListener>();
      const sub = this.nc.subscribe(subject, {
        callback: (err, msg) => {
          if (err) return this.logger.warn({ err: err.message, subject }, 'event subscription error');
          let event: EventEnvelope;
          try {
            event = parseEvent(msg.data);
          } catch (e) {
            return this.logger.warn({ err: (e as Error).message, subject: msg.subject }, 'ignoring invalid event');
          }
          const received = startRecordedSpan(tracer, `process ${msg.subject}`, () => ({
            kind: SpanKind.CONSUMER,
            attributes: { 'messaging.system': 'nats', 'messaging.destination.name': msg.subject, 'messaging.message.id': event.id },
            parent: extractTrace((key) => msg.headers?.get(key) || undefined),
          }));
          if (received) traced.set(event, received.context);
          for (const l of listeners) l(event);
          received?.span.end();
        },
      });
      entry = { sub, listeners };
      this.subs.set(context, entry);
    }
    entry.listeners.add(listener);
    return () => {
      const e = this.subs.get(context);
      if (!e) return;
      e.listeners.delete(listener);
      if (e.listeners.size === 0) {
        e.sub.unsubscribe();
        this.subs.delete(context);
      }
    };
  }

  /** Number of open NATS subscriptions (one per context with listeners). */
  get openSubscriptions(): number {
    return this.subs.size;
  }

  /** Number of listeners across all contexts (a subscription listens to each context it follows). */
  get listeners(): number {
    let n = 0;
    for (const e of this.subs.values()) n += e.listeners.size;
    return n;
  }

  close(): void {
    for (const { sub } of this.subs.values()) sub.unsubscribe();
    this.subs.clear();
  }
}
