/**
 * One subscription's stream: the events it hears, waiting in a bounded buffer, turned one at a
 * time into the results its client is sent. The events are a Repeater (@repeaterjs/repeater, the
 * async-iterator constructor graphql-yoga and the Guild's executors use) with a FixedBuffer, so
 * that the stream is a well-behaved AsyncIterator: `return()` ends it at once, even while it
 * waits for an event, and stops the listening.
 *
 * Back-pressure: the next event is resolved only once the consumer (graphql-ws, which waits
 * for the socket to take each message) has taken the previous result; the events behind it wait
 * in the buffer, at most `bufferSize`.
 *
 * Early ends, each with one last result (see {@link StreamOptions.ended}):
 * - SUBSCRIPTION_OVERFLOW when an event arrives while `bufferSize` wait: the client is too far
 *   behind, so the waiting events are dropped and it is told to resubscribe and refetch;
 * - UNAUTHENTICATED when the subscriber's token expires.
 */
import { FixedBuffer, Repeater } from '@repeaterjs/repeater';
import { ErrorCode } from '@courses/platform';
import { whenExpired } from '../auth.js';

/** What a subscription's stream is made of. `E` is an event, `R` a result sent to the client. */
export interface StreamOptions<E, R> {
  /**
   * Starts hearing events, handing each to `deliver`; returns how to stop hearing them, and the
   * events that come before those (a resumed subscription's replay: taken in order before the
   * buffer, and not counted against `bufferSize`).
   */
  listen(deliver: (event: E) => void): { stop(): void; backlog?: E[] };
  /** Most events waiting for their turn (count); one more ends the stream with SUBSCRIPTION_OVERFLOW. */
  bufferSize: number;
  /** When the subscriber's token expires, epoch seconds; the stream then ends with UNAUTHENTICATED. */
  expiresAt?: number;
  /** The result to send for an event, or null when there is nothing to send. */
  resolve(event: E): Promise<R | null>;
  /** The last result of a stream that ends early: an error with `code` and `message`. */
  ended(code: string, message: string): R;
  /** Called when the stream ends by overflow (for metrics). */
  onOverflow?(): void;
}

/** Why a stream ended early. */
interface EarlyEnd {
  code: string;
  message: string;
}

/**
 * The results of one subscription, as an async iterator (see the module comment).
 * @throws through the iterator what `resolve` throws.
 */
export function subscriptionStream<E, R>(opts: StreamOptions<E, R>): AsyncIterableIterator<R> {
  let early: EarlyEnd | undefined;
  const overflow = (): EarlyEnd => ({
    code: 'SUBSCRIPTION_OVERFLOW',
    message: `more than ${opts.bufferSize} events waited for this client; resubscribe and refetch`,
  });
  const buffer = new FixedBuffer(opts.bufferSize);
  // Listening starts now, not at the first pull: a resumed subscription's replay and the live
  // events after it are taken in one step (./engine.ts). Events heard before the Repeater
  // starts wait in `early`-bounded `waiting`.
  let waiting: E[] = [];
  let hand: ((event: E) => void) | undefined;
  const listening = opts.listen((event) => {
    if (hand) hand(event);
    else if (waiting.length < opts.bufferSize) waiting.push(event);
    else early ??= overflow();
  });
  const backlog = listening.backlog ?? [];
  let stopped = false;
  const stopListening = () => {
    if (!stopped) listening.stop();
    stopped = true;
  };
  const events = new Repeater<E>(async (push, stop) => {
    const end = (why: EarlyEnd) => {
      early ??= why;
      stop();
    };
    hand = (event) => {
      if (!buffer.full) void push(event);
      else end(overflow());
    };
    for (const event of waiting) hand(event);
    waiting = [];
    if (early) stop();
    const forgetExpiry =
      opts.expiresAt === undefined
        ? () => undefined
        : whenExpired(opts.expiresAt, () =>
            end({ code: ErrorCode.UNAUTHENTICATED, message: "this subscription's token expired; subscribe again with a fresh one" }),
          );
    await stop;
    stopListening();
    forgetExpiry();
  }, buffer);

  // The results: pulled one at a time, so the next event is resolved only when the consumer
  // asks for the next result. A plain iterator over the Repeater (a second Repeater here cost
  // the gateway 45 % more CPU per delivery at 5,000 clients: docs/performance.md).
  let finished = false;
  const results: AsyncIterableIterator<R> = {
    [Symbol.asyncIterator]: () => results,
    async next() {
      while (!finished) {
        const n: IteratorResult<E> = backlog.length && !early ? { done: false, value: backlog.shift()! } : await events.next();
        if (early) {
          // What still waits in the buffer is dropped; the early end is the last result.
          finished = true;
          await events.return();
          if (early.code === 'SUBSCRIPTION_OVERFLOW') opts.onOverflow?.();
          return { done: false, value: opts.ended(early.code, early.message) };
        }
        if (n.done) break;
        const result = await opts.resolve(n.value);
        if (result !== null && !finished) return { done: false, value: result };
      }
      finished = true;
      return { done: true, value: undefined };
    },
    async return() {
      // Ends a pending events.next() at once, which stops the listening (Repeater's contract).
      finished = true;
      await events.return();
      stopListening(); // in case the Repeater never started
      return { done: true, value: undefined };
    },
    // An async generator's third method: graphql-sse ends only what has it (its isAsyncGenerator).
    async throw(error?: unknown) {
      await results.return!();
      throw error;
    },
  };
  return results;
}
