/**
 * The spans of a consumed message: each is handled in a consumer span `process <subject>`, a
 * child of the publisher's span whose W3C context the message headers carry (tracing.ts); a
 * batch runs in its first message's span, and every other message of it has a span of its own
 * (in its own trace) for the same time.
 */
import type { EventEnvelope } from '@courses/contracts';
import { extractTrace, inSpan, SpanKind, startRecordedSpan, type TraceContext, type tracerOf } from '../observability/index.js';
import type { BusMessage } from './bus.js';

/** A message with the event it carries. */
export interface Item {
  msg: BusMessage;
  event: EventEnvelope;
}

/** Parent (from the message's headers) and attributes of the span that handles `msg` for durable consumer `durable`. */
export function processSpan(
  msg: BusMessage,
  event: EventEnvelope,
  durable: string,
): { kind: SpanKind; parent: TraceContext; attributes: Record<string, string | number> } {
  const parent = extractTrace((key) => msg.header(key));
  const attributes = {
    'messaging.system': 'nats',
    'messaging.operation.type': 'process',
    'messaging.destination.name': msg.subject,
    'messaging.consumer.group.name': durable,
    'messaging.message.id': event.id,
    'messaging.nats.delivery_count': msg.deliveryCount,
  };
  return { kind: SpanKind.CONSUMER, parent, attributes };
}

/** Runs `handle` for the batch `items` in its first message's span, with a span for each other message. */
export async function inBatchSpans(
  tracer: ReturnType<typeof tracerOf>,
  durable: string,
  items: Item[],
  handle: () => Promise<void>,
): Promise<void> {
  const optionsOf = ({ msg, event }: Item) => {
    const options = processSpan(msg, event, durable);
    return { ...options, attributes: { ...options.attributes, 'messaging.batch.message_count': items.length } };
  };
  const others = items.slice(1).flatMap((item) => startRecordedSpan(tracer, `process ${item.msg.subject}`, () => optionsOf(item)) ?? []);
  try {
    await inSpan(tracer, `process ${items[0].msg.subject}`, () => optionsOf(items[0]), handle);
  } finally {
    for (const { span } of others) span.end();
  }
}
