/**
 * JetStream streams and publishing: every stream's limits (duplicate window, age, discard) and
 * the one way an event is published (subject by type, `Nats-Msg-Id` = event id).
 */
import { DiscardPolicy, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { headers as natsHeaders } from '@nats-io/transport-node';
import { contextOf, subjectOf, type EventEnvelope, type StreamSpec } from '@courses/contracts';
import { extractTrace, injectTrace, inSpan, SpanKind, tracerOf, tracingEnabled } from '../observability/index.js';

/** Duplicate window of every stream: a re-send of the same Nats-Msg-Id within it is dropped (ms). */
export const DUPLICATE_WINDOW_MS = 2 * 60_000;

/**
 * How long a stream keeps a message (ms): 30 days, then the oldest go first (discard `old`).
 * Every durable consumer must catch up within it: a consumer down for longer loses what expired.
 * An age bound and no byte bound, so that no stream reserves storage up front.
 */
export const STREAM_MAX_AGE_MS = 30 * 24 * 3600_000;

/**
 * Creates the stream if missing (file storage, limits retention, duplicate window
 * {@link DUPLICATE_WINDOW_MS}, messages kept {@link STREAM_MAX_AGE_MS}, `replicas` copies: 1 on a
 * single server, 3 on a three-node cluster so that the stream survives the loss of a node); an
 * existing one gets that age limit and replica count if it has others and the connection may
 * change them (services may not: see {@link StreamCheck}), and is otherwise left as it is. A
 * service calls it for the streams it owns: its context's and its dead-letter stream (a consumer
 * waits for the others).
 * @throws when the server refuses (e.g. more replicas than a single server or the cluster has).
 */
export async function ensureStream(jsm: JetStreamManager, spec: StreamSpec, replicas = 1): Promise<StreamCheck> {
  const limits = { max_age: STREAM_MAX_AGE_MS * 1_000_000, discard: DiscardPolicy.Old, num_replicas: replicas };
  try {
    const info = await jsm.streams.info(spec.name);
    if (info.config.max_age !== limits.max_age || info.config.discard !== limits.discard || (info.config.num_replicas ?? 1) !== replicas) {
      // A service may not change a stream's limits (nats-auth.ts: only the operator may):
      // where it may not, the stream is left as it is and the caller says so.
      try {
        await jsm.streams.update(spec.name, limits);
      } catch (err) {
        if (/permission/i.test(String((err as Error)?.message))) return 'differs';
        throw err;
      }
    }
  } catch (err) {
    if (!isNotFound(err)) throw err;
    try {
      await jsm.streams.add({ name: spec.name, subjects: spec.subjects, duplicate_window: DUPLICATE_WINDOW_MS * 1_000_000, ...limits });
    } catch (err) {
      // Another replica may have created it in between.
      await jsm.streams.info(spec.name).catch(() => {
        throw err;
      });
    }
  }
  return 'ok';
}

/**
 * What {@link ensureStream} found: `ok` (the stream exists with its limits), or `differs` (it
 * exists with other limits, which this connection may not change: an operator's `nats stream
 * edit`, or the `operator` user, can).
 */
export type StreamCheck = 'ok' | 'differs';

/**
 * Publishes `event` on its subject with `Nats-Msg-Id` = event id and waits for the stream's ack.
 * Traced as a producer span `publish <subject>` (a child of the change that raised the event,
 * from its stored `traceContext`, else of the active span), whose W3C context rides in the
 * message headers (`traceparent`, `tracestate`) for the consumers.
 * @throws when no stream stores the subject or NATS is unreachable.
 */
export async function publishEvent(js: JetStreamClient, event: EventEnvelope, namespace: string): Promise<void> {
  const { traceContext, ...wire } = event;
  const subject = subjectOf(event.type, namespace);
  const options = () => ({
    kind: SpanKind.PRODUCER,
    parent: traceContext ? extractTrace((key) => traceContext[key]) : undefined,
    attributes: { 'messaging.system': 'nats', 'messaging.destination.name': subject, 'messaging.message.id': event.id },
  });
  await inSpan(tracerOf(contextOf(event.type)), `publish ${subject}`, options, async () => {
    let h;
    if (tracingEnabled())
      for (const [key, value] of Object.entries(injectTrace<Record<string, string>>({}))) (h ??= natsHeaders()).set(key, value);
    await js.publish(subject, JSON.stringify(wire), { msgID: event.id, timeout: 5_000, headers: h });
  });
}

/** Whether NATS refused because a stream or consumer does not exist (it says so in words only: JSApiError 10059 / 10014, "… not found"). */
export function isNotFound(err: unknown): boolean {
  return /not found/i.test(String((err as Error)?.message));
}
