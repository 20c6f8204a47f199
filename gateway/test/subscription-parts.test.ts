/** The parts of the subscription server, each alone: document cache, shared executions, the stream, keep-alive, socket checks. */
import { parse, type ExecutionResult, type ValidationContext } from 'graphql';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DocumentCache, graphqlCjs } from '../src/subscriptions/documents.js';
import { startKeepAlive, type PingableSocket } from '../src/subscriptions/keepalive.js';
import { ROUTES } from '../src/subscriptions/routes.js';
import { SharedExecutions } from '../src/subscriptions/shared-execution.js';
import { operationAuthorization, originAllowed, sameHost } from '../src/subscriptions/socket-auth.js';
import { subscriptionStream } from '../src/subscriptions/stream.js';
import { mergeByTime } from '../src/subscriptions/tap.js';

afterEach(() => vi.useRealTimers());

describe('DocumentCache', () => {
  // Built by the copy of graphql-js the cache validates with (see documents.ts).
  const schema = graphqlCjs.buildSchema(
    'type Query { x: Int } type Subscription { lectureUpdated(lectureId: ID!): L } type L { id: ID! title: String registrations: Int }',
  );

  it('hands out one parsed document per text, validates it once, and forgets the least recently used', () => {
    let visits = 0;
    const counting = () => ({ Document: () => void visits++ });
    const cache = new DocumentCache([counting as unknown as (c: ValidationContext) => never], {}, 2);
    const a = 'subscription { lectureUpdated(lectureId: "1") { id } }';
    expect(cache.parse(a)).toBe(cache.parse(a));
    const doc = cache.parse(a);
    expect(cache.validate(schema, doc)).toEqual([]);
    expect(cache.validate(schema, doc)).toEqual([]);
    expect(visits).toBe(1);
    cache.parse('{ x }');
    cache.parse('{ y: x }'); // a third text: `a` (least recently used) is forgotten
    expect(cache.parse(a)).not.toBe(doc);
  });

  it('keeps no document of a text over the size limit, and reports errors as graphql-js does', () => {
    const cache = new DocumentCache([], {}, 10, 20);
    const long = '{ x x x x x x x x x x x }';
    expect(cache.parse(long)).not.toBe(cache.parse(long));
    expect(cache.validate(schema, cache.parse('{ nope }')).map((e) => e.message)).toEqual(['Cannot query field "nope" on type "Query".']);
    expect(() => cache.parse('{')).toThrow(/Syntax Error/);
  });

  it("stops parsing a document past the gateway's token limit, as over HTTP", () => {
    const cache = new DocumentCache([], { maxTokens: 50 });
    expect(() => cache.parse(`{ ${'x '.repeat(100)}}`)).toThrow(/more that 50 tokens/); // graphql-js's own words
    expect(cache.parse(`{ ${'x '.repeat(10)}}`).kind).toBe('Document');
  });

  it('derives the entity queries once per document, and knows a public selection', () => {
    const cache = new DocumentCache();
    const doc = parse('subscription S { lectureUpdated(lectureId: "1") { id title } }');
    const op = doc.definitions[0] as never;
    const q = cache.entityQueries(doc, op, ROUTES.lectureUpdated);
    expect(cache.entityQueries(doc, op, ROUTES.lectureUpdated)).toBe(q);
    expect(q.publicOnly).toBe(true);
    expect(q.canonicalText).not.toContain('S');
    const withPrivate = parse('subscription { lectureUpdated(lectureId: "1") { id registrations { totalCount } } }');
    expect(cache.entityQueries(withPrivate, withPrivate.definitions[0] as never, ROUTES.lectureUpdated).publicOnly).toBe(false);
  });
});

describe('SharedExecutions', () => {
  it('runs one execution per key for everyone asking within the sharing window, then runs again', async () => {
    vi.useFakeTimers();
    let runs = 0;
    const counted: number[] = [];
    const shared = new SharedExecutions(() => counted.push(1), 2_000);
    const execute = async (): Promise<ExecutionResult> => ({ data: { n: ++runs } });
    const [a, b] = await Promise.all([shared.run('e1|s', execute), shared.run('e1|s', execute)]);
    expect(a).toBe(b);
    expect(await shared.run('e2|s', execute)).toEqual({ data: { n: 2 } });
    await vi.advanceTimersByTimeAsync(1_999);
    expect(await shared.run('e1|s', execute)).toBe(a);
    await vi.advanceTimersByTimeAsync(2);
    expect(await shared.run('e1|s', execute)).toEqual({ data: { n: 3 } });
    expect(shared.executions).toBe(3);
    expect(counted.length).toBe(3);
  });

  it('projects a shared result once per query document, with its JSON text', () => {
    const shared = new SharedExecutions();
    const result: ExecutionResult = { data: { x: 1 } };
    const query = parse('{ x }');
    let projections = 0;
    const project = () => (projections++, { data: { y: 1 } });
    const first = shared.projected(result, query, project);
    expect(shared.projected(result, query, project)).toBe(first);
    expect(first.fingerprint).toBe('{"data":{"y":1}}');
    expect(projections).toBe(1);
    shared.projected(result, parse('{ x }'), project);
    expect(projections).toBe(2);
  });
});

describe('keep-alive', () => {
  class FakeSocket implements PingableSocket {
    pings = 0;
    terminated = false;
    answers = true;
    private pong?: () => void;
    ping() {
      this.pings++;
      if (this.answers) this.pong?.();
    }
    terminate() {
      this.terminated = true;
    }
    on(_event: 'pong', listener: () => void) {
      this.pong = listener;
    }
  }

  it('pings each socket once per period at a phase of its own, and terminates one that stopped answering', async () => {
    vi.useFakeTimers();
    const clients = new Set<FakeSocket>();
    let onConnection!: (s: FakeSocket) => void;
    const server = { clients, on: (_e: 'connection', l: (s: FakeSocket) => void) => (onConnection = l) };
    const phases = [0.1, 0.6];
    const stop = startKeepAlive(server, 1_000, Date.now, () => phases.shift()!);
    const [early, late] = [new FakeSocket(), new FakeSocket()];
    for (const s of [early, late]) {
      clients.add(s);
      onConnection(s);
    }
    await vi.advanceTimersByTimeAsync(300);
    expect([early.pings, late.pings]).toEqual([1, 0]); // spread: not both at once
    await vi.advanceTimersByTimeAsync(400);
    expect([early.pings, late.pings]).toEqual([1, 1]);
    late.answers = false;
    await vi.advanceTimersByTimeAsync(1_000); // late pinged, no answer
    await vi.advanceTimersByTimeAsync(1_000); // its next turn: terminated
    expect(late.terminated).toBe(true);
    expect(early.terminated).toBe(false);
    expect(early.pings).toBeGreaterThanOrEqual(3);
    stop();
  });
});

describe('socket checks', () => {
  it("reads an operation's own Authorization in any letter case, only as a non-empty string", () => {
    expect(operationAuthorization({ headers: { authorization: 'Bearer a' } })).toBe('Bearer a');
    expect(operationAuthorization({ headers: { AUTHORIZATION: 'Bearer b' } })).toBe('Bearer b');
    for (const bad of [undefined, null, 'x', { headers: 'x' }, { headers: { authorization: 1 } }, { headers: { authorization: ' ' } }])
      expect(operationAuthorization(bad)).toBeUndefined();
  });

  it("lets a browser origin in when it is allowed or the gateway's own, and any client without one", () => {
    expect(originAllowed(undefined, 'gw:4000', ['https://app.example.com'])).toBe(true);
    expect(originAllowed('https://app.example.com', 'gw:4000', ['https://app.example.com'])).toBe(true);
    expect(originAllowed('http://gw:4000', 'gw:4000', ['https://app.example.com'])).toBe(true);
    expect(originAllowed('https://evil.example.net', 'gw:4000', ['https://app.example.com'])).toBe(false);
    expect(originAllowed('https://evil.example.net', 'gw:4000', undefined)).toBe(true);
    expect(sameHost('not a url', 'gw:4000')).toBe(false);
  });
});

describe('subscriptionStream', () => {
  /** A stream over numbered events whose result is `r<n>` (null for odd n when `skipOdd`), and its listener. */
  function stream(bufferSize: number, o: { skipOdd?: boolean; expiresAt?: number; backlog?: number[] } = {}) {
    const state = { deliver: undefined as ((n: number) => void) | undefined, listening: false, resolved: [] as number[] };
    const it = subscriptionStream<number, string>({
      listen(deliver) {
        state.deliver = deliver;
        state.listening = true;
        return { stop: () => (state.listening = false), backlog: o.backlog };
      },
      bufferSize,
      expiresAt: o.expiresAt,
      resolve: async (n) => {
        state.resolved.push(n);
        return o.skipOdd && n % 2 ? null : `r${n}`;
      },
      ended: (code) => `ended:${code}`,
    });
    return { it, state };
  }

  it('sends the result of each event in order, skips events with nothing to send, and resolves one event per result taken', async () => {
    const { it, state } = stream(10, { skipOdd: true });
    const first = it.next();
    await vi.waitFor(() => expect(state.listening).toBe(true));
    for (const n of [1, 2, 3, 4, 6]) state.deliver!(n);
    expect(await first).toEqual({ done: false, value: 'r2' });
    // Back-pressure: the next event is resolved only when the consumer asks for the next result.
    await new Promise((r) => setImmediate(r));
    expect(state.resolved).toEqual([1, 2]);
    expect(await it.next()).toEqual({ done: false, value: 'r4' });
    expect(state.resolved).toEqual([1, 2, 3, 4]);
    expect(await it.next()).toEqual({ done: false, value: 'r6' });
  });

  it('ends with one SUBSCRIPTION_OVERFLOW result when more events wait than its buffer holds, dropping the waiting ones', async () => {
    const { it, state } = stream(2);
    const first = it.next();
    await vi.waitFor(() => expect(state.listening).toBe(true));
    state.deliver!(1);
    expect((await first).value).toBe('r1');
    // The client does not take results for a while: 2 is handed over, 3 and 4 wait in the buffer, 5 overflows.
    for (let n = 2; n <= 6; n++) state.deliver!(n);
    await vi.waitFor(() => expect(state.listening).toBe(false));
    const rest: string[] = [];
    for await (const r of it) rest.push(r);
    expect(rest).toEqual(['ended:SUBSCRIPTION_OVERFLOW']);
    expect(state.resolved).toEqual([1]);
  });

  it('stops listening at once when the consumer returns, even while it waits for an event', async () => {
    const { it, state } = stream(2);
    const pending = it.next();
    await vi.waitFor(() => expect(state.listening).toBe(true));
    await it.return!();
    expect(await pending).toEqual({ done: true, value: undefined });
    await vi.waitFor(() => expect(state.listening).toBe(false));
  });

  it('sends the backlog first, in order and beyond the buffer size, then what was heard meanwhile', async () => {
    const { it, state } = stream(2, { backlog: [1, 2, 3, 4, 5] });
    expect(state.listening).toBe(true); // listening starts with the stream, before the first pull
    state.deliver!(6);
    const got: string[] = [];
    for (let i = 0; i < 6; i++) got.push((await it.next()).value as string);
    expect(got).toEqual(['r1', 'r2', 'r3', 'r4', 'r5', 'r6']);
    await it.return!();
    expect(state.listening).toBe(false);
  });

  it("ends with UNAUTHENTICATED when the subscriber's token expires", async () => {
    const { it, state } = stream(2, { expiresAt: Date.now() / 1000 - 1 });
    const all: string[] = [];
    for await (const r of it) all.push(r);
    expect(all).toEqual(['ended:UNAUTHENTICATED']);
    expect(state.listening).toBe(false);
  });
});

describe('mergeByTime (a resume replay across contexts)', () => {
  const ev = (seq: number, at: string) => ({ seq, event: { id: `e${seq}`, occurredAt: at } as never });
  it("merges contexts by time and never reorders one context's events, even when their times run backwards", () => {
    // Context 0 stored a refund's notice (later time) before a cancellation's (earlier time).
    const dashboard = [ev(7, '2026-12-07T08:00:02.000Z'), ev(8, '2026-12-07T08:00:01.000Z')];
    const other = [ev(3, '2026-12-07T08:00:00.500Z'), ev(4, '2026-12-07T08:00:03.000Z')];
    const merged = [...mergeByTime([dashboard, other])].map(({ ci, s }) => `${ci}:${s.seq}`);
    expect(merged).toEqual(['1:3', '0:7', '0:8', '1:4']);
    expect([...mergeByTime([dashboard])].map(({ s }) => s.seq)).toEqual([7, 8]);
    expect([...mergeByTime([[], []])]).toEqual([]);
  });
});

describe('who a registration event may concern', () => {
  const route = ROUTES.registrationStatusChanged;
  const event = (type: string, correlation: Record<string, string>) => ({ type, correlation }) as never;
  it("reaches the registration's student, its lecture's instructor and admins; a payment event no instructor", () => {
    const canceled = event('registration.canceled', { registrationId: 'r', studentId: 's-1', instructorId: 'i-1' });
    const refunded = event('payment.refunded', { registrationId: 'r', studentId: 's-1' });
    const student = { sub: 's-1', role: 'STUDENT' } as const;
    const instructor = { sub: 'i-1', role: 'INSTRUCTOR' } as const;
    expect([student, instructor, { sub: 'a', role: 'ADMIN' } as const].map((who) => route.mayConcern(canceled, who))).toEqual([
      true,
      true,
      true,
    ]);
    expect(route.mayConcern(canceled, { sub: 'i-2', role: 'INSTRUCTOR' })).toBe(false);
    expect(route.mayConcern(canceled, { sub: 's-2', role: 'STUDENT' })).toBe(false);
    expect(route.mayConcern(canceled, undefined)).toBe(false);
    expect(route.mayConcern(refunded, student)).toBe(true);
    expect(route.mayConcern(refunded, instructor)).toBe(false);
  });
});
