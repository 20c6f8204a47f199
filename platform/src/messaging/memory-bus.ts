/**
 * {@link Bus} in one process's memory: the twin of {@link NatsBus} for tests of a service's
 * application side without a NATS server. It keeps JetStream's contract as the services rely on
 * it (platform/test/bus.contract.test.ts runs the same suite over both): streams hold what is
 * published, a re-send of an event id within the duplicate window is dropped, a durable consumer
 * delivers every message of its stream at least once, to one of its subscribers, again after a
 * nak or an ack wait, at most `maxDeliver` times, and starts from the stream's first message.
 *
 * What it leaves out: persistence (a process that stops loses everything), per-service
 * permissions (nats-auth.ts), stream limits and trace headers.
 */
import { streamOf, subjectOf, type Context, type EventEnvelope, type StreamSpec } from '@courses/contracts';
import {
  listenByFollowing,
  StreamNotFoundError,
  type Bus,
  type BusMessage,
  type ConsumerLag,
  type DurableMessages,
  type DurableSpec,
  type Following,
  type StreamBounds,
  type StreamRecord,
} from './bus.js';
import { DUPLICATE_WINDOW_MS } from './nats-streams.js';

interface Stored {
  seq: number;
  subject: string;
  data: Uint8Array;
}

interface Stream {
  spec: StreamSpec;
  messages: Stored[];
  /** Message ids seen, with when (epoch ms), for the duplicate window. */
  ids: Map<string, number>;
  listeners: Set<(m: Stored) => void>;
  durables: Map<string, Durable>;
}

/** The state of one durable consumer, shared by its subscribers. */
class Durable {
  /** Index into the stream's messages of the next one never delivered. */
  next = 0;
  /** Sequences due for redelivery, oldest first. */
  readonly due: number[] = [];
  /** Delivered and not acked, termed or past maxDeliver: deliveries so far, and the ack-wait or nak timer. */
  readonly unacked = new Map<number, { deliveries: number; timer?: NodeJS.Timeout }>();
  /** Subscribers waiting for a message. */
  readonly waiters: Array<(m: Stored | undefined) => void> = [];

  constructor(
    private readonly stream: Stream,
    public spec: DurableSpec,
  ) {}

  /** The next message to hand out now, if any: a redelivery first, then the next new one. */
  take(): { stored: Stored; deliveries: number } | undefined {
    const seq = this.due.shift();
    if (seq !== undefined) {
      const entry = this.unacked.get(seq)!;
      entry.deliveries++;
      return { stored: this.stream.messages[seq - 1]!, deliveries: entry.deliveries };
    }
    const filter = this.spec.stream.subjects[0]!;
    while (this.next < this.stream.messages.length) {
      const stored = this.stream.messages[this.next++]!;
      if (!subjectMatches(filter, stored.subject)) continue;
      this.unacked.set(stored.seq, { deliveries: 1 });
      return { stored, deliveries: 1 };
    }
    return undefined;
  }

  /** Hands messages to waiting subscribers while both are there. */
  wake(): void {
    while (this.waiters.length) {
      const taken = this.take();
      if (!taken) return;
      this.waiters.shift()!(this.handOut(taken));
    }
  }

  /** Marks `taken` delivered: it comes again after the ack wait unless settled. */
  handOut(taken: { stored: Stored; deliveries: number }): Stored & { deliveries: number } {
    this.later(taken.stored.seq, this.spec.ackWaitMs);
    return { ...taken.stored, deliveries: taken.deliveries };
  }

  /** Delivers `seq` again after `ms`, unless it has had its maxDeliver deliveries. */
  later(seq: number, ms: number): void {
    const entry = this.unacked.get(seq);
    if (!entry) return;
    clearTimeout(entry.timer);
    if (entry.deliveries >= this.spec.maxDeliver) {
      // As JetStream: past its last delivery a message is not delivered again, and no longer pending.
      entry.timer = setTimeout(() => this.unacked.delete(seq), ms);
    } else
      entry.timer = setTimeout(() => {
        entry.timer = undefined;
        this.due.push(seq);
        this.wake();
      }, ms);
    entry.timer.unref();
  }

  settle(seq: number): void {
    clearTimeout(this.unacked.get(seq)?.timer);
    this.unacked.delete(seq);
    const i = this.due.indexOf(seq);
    if (i >= 0) this.due.splice(i, 1);
  }

  close(): void {
    for (const e of this.unacked.values()) clearTimeout(e.timer);
    for (const w of this.waiters.splice(0)) w(undefined);
  }
}

/** True when NATS subject `subject` matches `pattern` (`*` one token, `>` the rest). */
function subjectMatches(pattern: string, subject: string): boolean {
  const p = pattern.split('.');
  const s = subject.split('.');
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '>') return s.length > i;
    if (i >= s.length || (p[i] !== '*' && p[i] !== s[i])) return false;
  }
  return p.length === s.length;
}

const encoder = new TextEncoder();

/** The event bus of one process (see the module doc); `namespace` as NatsBus's. */
export class InMemoryBus implements Bus {
  readonly kind = 'memory';
  private readonly streams = new Map<string, Stream>();
  private closed = false;

  constructor(private readonly namespace = '') {}

  async ensureStream(spec: StreamSpec): Promise<'ok' | 'differs'> {
    if (!this.streams.has(spec.name))
      this.streams.set(spec.name, { spec, messages: [], ids: new Map(), listeners: new Set(), durables: new Map() });
    return 'ok';
  }

  async publish(event: EventEnvelope): Promise<void> {
    const { traceContext: _stored, ...wire } = event;
    await this.append(subjectOf(event.type, this.namespace), JSON.stringify(wire), event.id);
  }

  async append(subject: string, body: string, msgId: string): Promise<void> {
    if (this.closed) throw new Error('the bus is closed');
    const stream = [...this.streams.values()].find((s) => s.spec.subjects.some((p) => subjectMatches(p, subject)));
    if (!stream) throw new Error(`no stream stores ${subject}`);
    const now = Date.now();
    const seen = stream.ids.get(msgId);
    if (seen !== undefined && now - seen < DUPLICATE_WINDOW_MS) return;
    stream.ids.set(msgId, now);
    const stored: Stored = { seq: stream.messages.length + 1, subject, data: encoder.encode(body) };
    stream.messages.push(stored);
    for (const d of stream.durables.values()) d.wake();
    for (const l of stream.listeners) queueMicrotask(() => l(stored));
  }

  async durable(spec: DurableSpec): Promise<DurableMessages> {
    if (this.closed) throw new Error('the bus is closed');
    const stream = this.streams.get(spec.stream.name);
    if (!stream) throw new StreamNotFoundError(spec.stream.name);
    let durable = stream.durables.get(spec.durable);
    if (durable) durable.spec = spec;
    else stream.durables.set(spec.durable, (durable = new Durable(stream, spec)));
    const d = durable;
    let stopped = false;
    let wakeMe: ((m: Stored | undefined) => void) | undefined;
    const next = (): Promise<(Stored & { deliveries: number }) | undefined> => {
      if (stopped || this.closed) return Promise.resolve(undefined);
      const taken = d.take();
      if (taken) return Promise.resolve(d.handOut(taken));
      return new Promise((resolve) => {
        wakeMe = resolve as (m: Stored | undefined) => void;
        d.waiters.push(wakeMe);
      });
    };
    return {
      async *[Symbol.asyncIterator]() {
        for (;;) {
          const m = await next();
          if (!m) return;
          yield memoryMessage(d, m);
        }
      },
      async stop() {
        stopped = true;
        const i = wakeMe ? d.waiters.indexOf(wakeMe) : -1;
        if (i >= 0) d.waiters.splice(i, 1)[0]!(undefined);
      },
    };
  }

  async lag(stream: string, durable: string): Promise<ConsumerLag | undefined> {
    const s = this.streams.get(stream);
    const d = s?.durables.get(durable);
    if (!s || !d) return undefined;
    const filter = d.spec.stream.subjects[0]!;
    const pending = s.messages.slice(d.next).filter((m) => subjectMatches(filter, m.subject)).length;
    return { pending, unacked: d.unacked.size };
  }

  async bounds(context: Context): Promise<StreamBounds> {
    const name = streamOf(context, this.namespace).name;
    const stream = this.streams.get(name);
    if (!stream) throw new StreamNotFoundError(name);
    return { first: 1, last: stream.messages.length };
  }

  async follow(context: Context, from: number | 'next', onRecord: (record: StreamRecord) => void): Promise<Following> {
    const name = streamOf(context, this.namespace).name;
    const stream = this.streams.get(name);
    if (!stream) throw new StreamNotFoundError(name);
    const start = from === 'next' ? stream.messages.length + 1 : Math.max(1, from);
    let stopped = false;
    let next = start;
    // In order, each once: what is stored from `start` on, then each message as it is published.
    const each = () => {
      while (!stopped && next <= stream.messages.length) {
        const m = stream.messages[next - 1]!;
        next++;
        onRecord({ subject: m.subject, seq: m.seq, data: m.data, header: () => undefined });
      }
    };
    stream.listeners.add(each);
    queueMicrotask(each);
    return {
      from: start,
      stop() {
        stopped = true;
        stream.listeners.delete(each);
      },
    };
  }

  listen(context: Context, listener: (event: EventEnvelope, seq: number) => void): Promise<() => void> {
    return listenByFollowing(this, context, listener);
  }

  /** What stream `name` holds, oldest first (for tests: e.g. a consumer's dead letters); empty when it does not exist. */
  stored(name: string): ReadonlyArray<{ subject: string; seq: number; data: Uint8Array }> {
    return this.streams.get(name)?.messages ?? [];
  }

  ready(): boolean {
    return !this.closed;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const s of this.streams.values()) {
      s.listeners.clear();
      for (const d of s.durables.values()) d.close();
    }
  }
}

/** A stored message as one subscriber of `d` receives it. */
function memoryMessage(d: Durable, m: Stored & { deliveries: number }): BusMessage {
  let settled = false;
  /** The first of ack, nak and term counts; later calls do nothing (as on NATS). */
  const first = (fn: () => void) => {
    if (settled) return;
    settled = true;
    fn();
  };
  return {
    subject: m.subject,
    seq: m.seq,
    data: m.data,
    deliveryCount: m.deliveries,
    header: () => undefined,
    ack: () => first(() => d.settle(m.seq)),
    term: () => first(() => d.settle(m.seq)),
    nak: (delayMs = 0) => first(() => d.later(m.seq, delayMs)),
  };
}
