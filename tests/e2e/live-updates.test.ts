/**
 * Live data that never misses a transition (issue 20): each delivery reports its own event, a
 * client that comes back with its last position gets what it missed (from the gateway's window,
 * from JetStream through a restarted gateway), `current: true`, and all of it over graphql-ws,
 * Server-Sent Events and Apollo's multipart HTTP alike.
 */
import { ApolloClient, ApolloLink, HttpLink, InMemoryCache, Observable } from '@apollo/client';
import { jetstreamManager } from '@nats-io/jetstream';
import { print } from 'graphql';
import { createClient as createSseClient } from 'graphql-sse';
import { createClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { LectureChangesDocument, subscribeResuming } from '@courses/client';
import { streamOf } from '@courses/contracts';
import { eventually, gqlOk, subscribeOver, wsClient, type LiveResult, type Transport } from '@courses/devkit/graphql-client';
import { DEV_JWT_SECRET } from '@courses/platform';
import { startSystem, type TestSystem } from '@courses/test-kit/system';
import { startGateway, type RunningGateway } from '../../gateway/src/app.js';
import { issueToken } from '../../gateway/src/auth.js';

let sys: TestSystem;
let kim: string;
const gateways: RunningGateway[] = [];
beforeAll(async () => {
  sys = await startSystem();
  kim = await sys.token('INSTRUCTOR', 'i-live-kim');
});
afterAll(async () => {
  for (const g of gateways) await g.stop().catch(() => undefined);
  await sys?.stop();
});

const TRANSPORTS: Transport[] = ['ws', 'sse', 'multipart'];
const CANCEL = `mutation($id: ID!) { cancelRegistration(id: $id) { id status } }`;
const MINE = `subscription { registrationStatusChanged { id status cancellationReason payment { status } } }`;
const LECTURE = `subscription($id: ID!, $current: Boolean) { lectureUpdated(lectureId: $id, current: $current) { id enrolledCount status } }`;
const NOTIFY = `subscription { notificationReceived { id kind lecture { id } } }`;

/** Waits until `gateway` has `n` more listeners than `before` (a subscription listens on each context of its route). */
const listening = (gateway: RunningGateway, before: number, n: number) =>
  eventually(async () => gateway.hub.listeners >= before + n, 10_000, `${n} more listeners`);

const counts = (rs: LiveResult[]) => rs.map((r) => r.data?.lectureUpdated?.enrolledCount);
const codeOf = (r: LiveResult | undefined) => r?.errors?.[0]?.extensions?.code ?? r?.errors?.[0]?.message;

async function newStudent(name: string): Promise<string> {
  return sys.token('STUDENT', `s-live-${name}-${Math.random().toString(36).slice(2, 8)}`);
}

/**
 * Registers a new student and waits until the lecture's enrolled count is `count`: the lecture
 * subgraph applies registrations in batches, one count event per batch, so a test that wants one
 * event per registration lets each settle first.
 */
async function enrol(lecture: string, count: number): Promise<void> {
  await sys.register(lecture, await newStudent(`n${count}`));
  const read = async () => {
    // Past the gateway's 2 s public response cache.
    const res = await fetch(`${sys.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'cache-control': 'no-cache' },
      body: JSON.stringify({ query: `{ lecture(id: "${lecture}") { enrolledCount } }` }),
    });
    return ((await res.json()) as { data: { lecture: { enrolledCount: number } } }).data.lecture.enrolledCount;
  };
  await eventually(async () => (await read()) === count, 10_000, `enrolled count ${count}`);
}

describe.each(TRANSPORTS)('over %s', (transport) => {
  it('delivers a register→cancel made within milliseconds as CONFIRMED, then CANCELED, then refunded, in order, each with its position', async () => {
    const lecture = await sys.openLecture(kim, `Race ${transport}`);
    const student = await newStudent(`race-${transport}`);
    const before = sys.gateway.hub.listeners;
    const feed = subscribeOver(transport, sys.url, MINE, { token: student });
    const inbox = subscribeOver(transport, sys.url, NOTIFY, { token: student });
    await listening(sys.gateway, before, 2 + 1);
    const { id } = await sys.register(lecture, student);
    await gqlOk(sys.url, CANCEL, { id }, student); // within a few ms of the confirmation: both reads see CANCELED
    const got = await feed.waitFor(3);
    expect(got.map((r) => [r.data?.registrationStatusChanged.status, r.data?.registrationStatusChanged.payment?.status])).toEqual([
      ['CONFIRMED', 'COMPLETED'],
      ['CANCELED', 'COMPLETED'],
      ['CANCELED', 'REFUNDED'],
    ]);
    expect(got[1].data?.registrationStatusChanged.cancellationReason).toBe('STUDENT_REQUEST');
    const positions = got.map((r) => r.extensions?.eventId);
    expect(new Set(positions).size).toBe(3);
    if (transport === 'sse') expect(got.map((r) => r.sseId)).toEqual(positions);
    const told = await inbox.waitFor(3);
    expect(told.map((r) => r.data?.notificationReceived.kind).sort()).toEqual([
      'PAYMENT_REFUNDED',
      'REGISTRATION_CANCELED',
      'REGISTRATION_CONFIRMED',
    ]);
    expect(told.every((r) => r.extensions?.eventId && r.data?.notificationReceived.lecture.id === lecture)).toBe(true);
    for (const f of [feed, inbox]) f.stop();
  });

  it('resumes from the last position: the missed events in order, then live ones, none twice', async () => {
    const lecture = await sys.openLecture(kim, `Resume ${transport}`);
    const before = sys.gateway.hub.listeners;
    const first = subscribeOver(transport, sys.url, LECTURE, { variables: { id: lecture } });
    await listening(sys.gateway, before, 2);
    await enrol(lecture, 1);
    const [seen] = await first.waitFor(1);
    first.stop();
    await first.done;
    // Gone: three changes happen meanwhile.
    for (const n of [2, 3, 4]) await enrol(lecture, n);
    const back = subscribeOver(transport, sys.url, LECTURE, { variables: { id: lecture }, lastEventId: seen.extensions!.eventId });
    expect(counts(await back.waitFor(3))).toEqual([2, 3, 4]);
    await enrol(lecture, 5);
    expect(counts(await back.waitFor(4))).toEqual([2, 3, 4, 5]);
    back.stop();
  });

  it('with current: true, first delivers the lecture as it is now, then its changes', async () => {
    const lecture = await sys.openLecture(kim, `Current ${transport}`);
    await enrol(lecture, 1);
    const feed = subscribeOver(transport, sys.url, LECTURE, { variables: { id: lecture, current: true } });
    const [now] = await feed.waitFor(1);
    expect(now.data?.lectureUpdated).toMatchObject({ id: lecture, enrolledCount: 1, status: 'OPEN' });
    expect(now.extensions?.eventId).toBeTruthy();
    await sys.register(lecture, await newStudent('c2'));
    expect(counts(await feed.waitFor(2))).toEqual([1, 2]);
    feed.stop();
  });

  it('refuses a bad token, and ends the subscription with UNAUTHENTICATED when its token expires', async () => {
    const refused = subscribeOver(transport, sys.url, MINE, { token: 'not-a-jwt' });
    const [r] = await refused.waitFor(1);
    expect(transport === 'ws' ? r.errors?.length : codeOf(r)).toBe(transport === 'ws' ? 1 : 'UNAUTHENTICATED');
    refused.stop();
    const shortLived = await issueToken({ sub: `s-brief-${transport}`, role: 'STUDENT' }, DEV_JWT_SECRET, 2);
    const feed = subscribeOver(transport, sys.url, MINE, { token: shortLived });
    await feed.done; // the server ends it
    if (transport !== 'ws') expect(codeOf(feed.results.at(-1))).toBe('UNAUTHENTICATED'); // graphql-ws closes the socket with 4401 instead
  });

  it('stops listening when the client goes away', async () => {
    const lecture = await sys.openLecture(kim, `Gone ${transport}`);
    const before = sys.gateway.hub.listeners;
    const feed = subscribeOver(transport, sys.url, LECTURE, { variables: { id: lecture, current: true } });
    await feed.waitFor(1);
    expect(sys.gateway.hub.listeners).toBe(before + 2);
    feed.stop();
    await eventually(async () => sys.gateway.hub.listeners === before, 5_000, 'the subscription ended at the gateway');
  });

  it('answers a malformed position and one of another subscription with BAD_USER_INPUT', async () => {
    const [a, b] = [await sys.openLecture(kim, `Foreign A ${transport}`), await sys.openLecture(kim, `Foreign B ${transport}`)];
    const before = sys.gateway.hub.listeners;
    const onA = subscribeOver(transport, sys.url, LECTURE, { variables: { id: a } });
    await listening(sys.gateway, before, 2);
    await sys.register(a, await newStudent('f1'));
    const [fromA] = await onA.waitFor(1);
    onA.stop();
    for (const lastEventId of ['not-a-position', fromA.extensions!.eventId!]) {
      const onB = subscribeOver(transport, sys.url, LECTURE, { variables: { id: b }, lastEventId });
      const [r] = await onB.waitFor(1);
      expect(codeOf(r)).toBe('BAD_USER_INPUT');
      onB.stop();
    }
  });
});

describe("SSE's single connection mode (graphql-sse's client)", () => {
  it('carries several operations on one event stream, each with its positions, as the signed-in caller', async () => {
    const lecture = await sys.openLecture(kim, 'Single Stream');
    const student = await newStudent('single');
    const client = createSseClient({
      url: `${sys.url}/graphql/stream`,
      singleConnection: true,
      headers: { authorization: `Bearer ${student}` },
    });
    const got: { lecture: LiveResult[]; mine: LiveResult[] } = { lecture: [], mine: [] };
    const before = sys.gateway.hub.listeners;
    const stops = [
      client.subscribe(
        { query: LECTURE, variables: { id: lecture } },
        { next: (r) => void got.lecture.push(r as LiveResult), error: () => undefined, complete: () => undefined },
      ),
      client.subscribe(
        { query: MINE },
        { next: (r) => void got.mine.push(r as LiveResult), error: () => undefined, complete: () => undefined },
      ),
    ];
    await listening(sys.gateway, before, 4);
    await sys.register(lecture, student);
    await eventually(async () => got.lecture.length >= 1 && got.mine.length >= 1, 10_000, 'both operations delivered');
    expect(got.lecture[0].data?.lectureUpdated.enrolledCount).toBe(1);
    expect(got.mine[0].data?.registrationStatusChanged.status).toBe('CONFIRMED');
    expect(got.lecture[0].extensions?.eventId).not.toBe(got.mine[0].extensions?.eventId);
    stops.forEach((stop) => stop());
    client.dispose();
  });
});

describe('Apollo Client 4, as the README shows it', () => {
  const lectureUpdates = (link: ApolloLink, lecture: string) => {
    const client = new ApolloClient({ link, cache: new InMemoryCache() });
    const counts: number[] = [];
    const sub = client
      .subscribe({ query: LectureChangesDocument, variables: { id: lecture } })
      .subscribe(({ data }) => void (data && counts.push(data.lectureUpdated.enrolledCount)));
    return { counts, stop: () => sub.unsubscribe() };
  };

  it('subscribes over HttpLink alone (multipart HTTP) and over an SSE link', async () => {
    const lecture = await sys.openLecture(kim, 'Apollo Client');
    const sse = createSseClient({ url: `${sys.url}/graphql/stream` });
    const sseLink = new ApolloLink(
      (operation) =>
        new Observable((observer) =>
          sse.subscribe(
            { ...operation, query: print(operation.query) },
            { next: (r) => observer.next(r as never), error: (e) => observer.error(e), complete: () => observer.complete() },
          ),
        ),
    );
    const before = sys.gateway.hub.listeners;
    const overHttp = lectureUpdates(new HttpLink({ uri: `${sys.url}/graphql` }), lecture);
    const overSse = lectureUpdates(sseLink, lecture);
    await listening(sys.gateway, before, 4);
    await enrol(lecture, 1);
    await enrol(lecture, 2);
    await eventually(async () => overHttp.counts.length === 2 && overSse.counts.length === 2, 10_000, 'two deliveries each');
    expect(overHttp.counts).toEqual([1, 2]);
    expect(overSse.counts).toEqual([1, 2]);
    overHttp.stop();
    overSse.stop();
    sse.dispose();
  });
});

describe('resume, across gateways and limits', () => {
  it("will not replay another student's registrations: their position is refused, and their entity resolves to nothing", async () => {
    const lecture = await sys.openLecture(kim, 'Private Replay');
    const [ana, ben] = [await newStudent('ana'), await newStudent('ben')];
    const before = sys.gateway.hub.listeners;
    const anaFeed = subscribeOver('ws', sys.url, MINE, { token: ana });
    await listening(sys.gateway, before, 2);
    const { id } = await sys.register(lecture, ana);
    const [anaSaw] = await anaFeed.waitFor(1);
    anaFeed.stop();
    const stolen = subscribeOver('ws', sys.url, MINE, { token: ben, lastEventId: anaSaw.extensions!.eventId });
    expect(codeOf((await stolen.waitFor(1))[0])).toBe('BAD_USER_INPUT');
    stolen.stop();
    // Ben asking for Ana's registration as it is now gets nothing; Ana gets it.
    const sub = `subscription($id: ID!) { registrationStatusChanged(registrationId: $id, current: true) { id status } }`;
    const benNow = subscribeOver('ws', sys.url, sub, { token: ben, variables: { id } });
    const anaNow = subscribeOver('ws', sys.url, sub, { token: ana, variables: { id } });
    expect((await anaNow.waitFor(1))[0].data?.registrationStatusChanged).toEqual({ id, status: 'CONFIRMED' });
    await new Promise((r) => setTimeout(r, 500));
    expect(benNow.results).toEqual([]);
    benNow.stop();
    anaNow.stop();
  });

  it('keeps the socket up after a refused position: the next subscription on it is served', async () => {
    const lecture = await sys.openLecture(kim, 'Socket Stays');
    const client = wsClient(sys.url);
    const results: unknown[] = [];
    await new Promise<void>((resolve) =>
      client.subscribe(
        { query: LECTURE, variables: { id: lecture }, extensions: { lastEventId: '1_1.0.-1.0000000000' } },
        { next: (r) => results.push(r), error: () => resolve(), complete: resolve },
      ),
    );
    expect(codeOf(results[0] as LiveResult)).toBe('BAD_USER_INPUT');
    const now = await new Promise<LiveResult>((resolve) =>
      client.subscribe(
        { query: LECTURE, variables: { id: lecture, current: true } },
        { next: (r) => resolve(r as LiveResult), error: () => undefined, complete: () => undefined },
      ),
    );
    expect(now.data?.lectureUpdated).toMatchObject({ id: lecture, enrolledCount: 0 });
    await client.dispose();
  });

  it("a student's inbox resumes through a restarted gateway: the notifications of the gap, then live ones", async () => {
    const lecture = await sys.openLecture(kim, 'Inbox Resume', 20);
    const student = await newStudent('inbox');
    const first = await startGateway({ ...sys.envOf('gateway'), PORT: '0' });
    gateways.push(first);
    const before = first.hub.listeners;
    const feed = subscribeOver('ws', `http://127.0.0.1:${first.port}`, NOTIFY, { token: student });
    await listening(first, before, 1);
    const { id } = await sys.register(lecture, student);
    const [told] = await feed.waitFor(1);
    expect(told.data?.notificationReceived.kind).toBe('REGISTRATION_CONFIRMED');
    await first.stop();
    await feed.done;
    await gqlOk(sys.url, CANCEL, { id }, student); // canceled and refunded while the client is away
    const second = await startGateway({ ...sys.envOf('gateway'), PORT: '0' });
    gateways.push(second);
    const back = subscribeOver('ws', `http://127.0.0.1:${second.port}`, NOTIFY, { token: student, lastEventId: told.extensions!.eventId });
    const got = await back.waitFor(2);
    expect(got.map((r) => r.data?.notificationReceived.kind).sort()).toEqual(['PAYMENT_REFUNDED', 'REGISTRATION_CANCELED']);
    back.stop();
    await second.stop();
  });

  it('a client resuming through a restarted gateway receives every event of the gap: 0 missed, 0 duplicated', async () => {
    const lecture = await sys.openLecture(kim, 'Rolling', 20);
    const first = await startGateway({ ...sys.envOf('gateway'), PORT: '0' });
    gateways.push(first);
    const url = `http://127.0.0.1:${first.port}`;
    const before = first.hub.listeners;
    const feed = subscribeOver('ws', url, LECTURE, { variables: { id: lecture } });
    await listening(first, before, 2);
    await enrol(lecture, 1);
    const [seen] = await feed.waitFor(1);
    await first.stop(); // the rolling update takes it away
    await feed.done;
    for (let n = 2; n <= 6; n++) await enrol(lecture, n);
    const second = await startGateway({ ...sys.envOf('gateway'), PORT: '0' });
    gateways.push(second);
    const back = subscribeOver('ws', `http://127.0.0.1:${second.port}`, LECTURE, {
      variables: { id: lecture },
      lastEventId: seen.extensions!.eventId,
    });
    expect(counts(await back.waitFor(5))).toEqual([2, 3, 4, 5, 6]);
    await enrol(lecture, 7);
    expect(counts(await back.waitFor(6))).toEqual([2, 3, 4, 5, 6, 7]);
    back.stop();
    await second.stop();
  });

  it("@courses/client's subscribeResuming rides graphql-ws's own reconnection through a gateway restart, and misses nothing", async () => {
    const lecture = await sys.openLecture(kim, 'Typed Resume', 20);
    let gateway = await startGateway({ ...sys.envOf('gateway'), PORT: '0' });
    gateways.push(gateway);
    const port = gateway.port;
    const client = createClient({
      url: `ws://127.0.0.1:${port}/graphql`,
      webSocketImpl: WebSocket,
      retryAttempts: 200, // 200 ms apart: the gateway is away for several seconds
      retryWait: async () => new Promise((r) => setTimeout(r, 200)),
      shouldRetry: () => true,
    });
    const seen: number[] = [];
    const before = gateway.hub.listeners;
    const sub = subscribeResuming(
      client,
      LectureChangesDocument,
      { id: lecture },
      { next: (d) => void seen.push(d.lectureUpdated.enrolledCount) },
    );
    await listening(gateway, before, 2);
    await enrol(lecture, 1);
    await eventually(async () => seen.length === 1, 10_000, 'first delivery');
    await gateway.stop();
    for (let n = 2; n <= 4; n++) await enrol(lecture, n);
    gateway = await startGateway({ ...sys.envOf('gateway'), PORT: String(port) });
    gateways.push(gateway);
    await eventually(async () => seen.length === 4, 15_000, 'the three missed deliveries');
    await enrol(lecture, 5);
    await eventually(async () => seen.length === 5, 10_000, 'the next live one');
    expect(seen).toEqual([1, 2, 3, 4, 5]);
    expect(sub.position).toMatch(/^\d+_\d+\./);
    sub.dispose();
    await client.dispose();
    await gateway.stop();
  });

  /**
   * A client that saw one change of a new lecture and left, `missed` more changes, then the
   * answer a new gateway (started with `env`, after `meanwhile`) gives it when it resumes.
   */
  async function resumeThroughNewGateway(title: string, missed: number, env: Record<string, string>, meanwhile = async () => {}) {
    const lecture = await sys.openLecture(kim, title, 20);
    const before = sys.gateway.hub.listeners;
    const feed = subscribeOver('ws', sys.url, LECTURE, { variables: { id: lecture } });
    await listening(sys.gateway, before, 2);
    await enrol(lecture, 1);
    const [seen] = await feed.waitFor(1);
    feed.stop();
    for (let n = 2; n <= 1 + missed; n++) await enrol(lecture, n);
    await meanwhile();
    const gateway = await startGateway({ ...sys.envOf('gateway'), PORT: '0', ...env });
    gateways.push(gateway);
    const back = subscribeOver('ws', `http://127.0.0.1:${gateway.port}`, LECTURE, {
      variables: { id: lecture },
      lastEventId: seen.extensions!.eventId,
    });
    const [r] = await back.waitFor(1);
    back.stop();
    await gateway.stop();
    return r;
  }

  it('answers RESUME_EXPIRED for a position further back than the gateway replays', async () => {
    // A gateway that replays at most 2 events per context: this gap is longer.
    const r = await resumeThroughNewGateway('Too Far', 3, { SUBSCRIPTION_REPLAY_MAX: '2' });
    expect(codeOf(r)).toBe('RESUME_EXPIRED');
  });

  it('counts SSE, multipart and graphql-ws connections against one per-client cap', async () => {
    const lecture = await sys.openLecture(kim, 'Capped');
    const capped = await startGateway({ ...sys.envOf('gateway'), PORT: '0', WS_MAX_SOCKETS_PER_CLIENT: '2' });
    gateways.push(capped);
    const url = `http://127.0.0.1:${capped.port}`;
    const query = { query: LECTURE, variables: { id: lecture, current: true } };
    const [sse, multipart] = [
      subscribeOver('sse', url, LECTURE, { variables: query.variables }),
      subscribeOver('multipart', url, LECTURE, { variables: query.variables }),
    ];
    await Promise.all([sse.waitFor(1), multipart.waitFor(1)]);
    const third = await fetch(`${url}/graphql/stream`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify(query),
    });
    expect(third.status).toBe(429);
    const code = await new Promise<number>((resolve) => {
      const ws = new WebSocket(`ws://127.0.0.1:${capped.port}/graphql`, 'graphql-transport-ws');
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('open', () => resolve(101));
    });
    expect(code).toBe(429);
    sse.stop();
    multipart.stop();
    await capped.stop();
  });

  it('answers RESUME_EXPIRED for a position older than the stream keeps', async () => {
    // The stream forgets what came before (as max_age does after 30 days); every consumer has read
    // it. The new gateway holds nothing in memory: it reads the stream, which no longer has it.
    const r = await resumeThroughNewGateway('Purged', 1, {}, async () => {
      const jsm = await jetstreamManager(await sys.nats.connect('ops'));
      await jsm.streams.purge(streamOf('lecture', sys.tag).name);
    });
    expect(codeOf(r)).toBe('RESUME_EXPIRED');
    expect(r.errors?.[0]?.message).toMatch(/no longer holds/);
  });

  it('the consistency checker finds every invariant holding', async () => {
    await sys.assertConsistent();
  });
});
