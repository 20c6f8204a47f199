/**
 * A process of subscription clients for `npm run bench:subscriptions`, apart from the gateway and
 * from the bench's own process, so that the clients' CPU is not the gateway's. Driven over IPC:
 *
 *   parent → { type: 'start', urls, lectures, clients, offset, transport, jwtSecret? }   connect `clients`
 *            clients over `transport` (ws, sse, multipart), anonymous or each its own student when
 *            jwtSecret is given; client k = offset+i watches lectures[k % L] on urls[⌊k / L⌋ % urls.length]
 *   child  → { type: 'progress', warm, received, caughtUp }        every 250 ms: clients that got their
 *            first (warm-up) payload, measured payloads received, and (after a resume) clients that
 *            have every delivery they missed
 *   parent → { type: 'sent', at: { '<lecture>:<count>': epochMs } , perLecture: { '<lecture>': n } }
 *   child  → { type: 'report', latencies, slowest (per event number), expected, received, overflow, closed, neverArrived }
 *   parent → { type: 'drop' }                                        every client drops its connection at once
 *   child  → { type: 'dropped' }
 *   parent → { type: 'resume', missed: { '<lecture>': [count, …] } }   every client subscribes again
 *            with its last position (`lastEventId`)
 *   child  → { type: 'resumed', expected, received, duplicates, catchUp (ms per client, from its
 *            resubscribe to its last missed delivery), failed (clients refused a resume) }
 *
 * A payload is "measured" when its enrolled count is one the parent published (count ≥ 1); its
 * latency is receipt time minus publish time, both `performance.timeOrigin + performance.now()`
 * (one machine, one clock). A missing delivery is put down to the first cause that applies to its
 * client: the subscription ended with SUBSCRIPTION_OVERFLOW, the connection closed, or it never came.
 */
import WebSocket from 'ws';
import { subscribeOver, type LiveResult, type Transport } from '@courses/devkit/graphql-client';
import { issueToken } from '../../gateway/src/auth.js';

interface Start {
  type: 'start';
  urls: string[];
  lectures: string[];
  clients: number;
  offset: number;
  transport: Transport;
  /** When given, client k signs in as student `s-fanout-<k>` with a token signed by this (dev) secret. */
  jwtSecret?: string;
}
interface Sent {
  type: 'sent';
  at: Record<string, number>;
  perLecture: Record<string, number>;
}
interface Resume {
  type: 'resume';
  missed: Record<string, number[]>;
}

const now = () => performance.timeOrigin + performance.now();
const QUERY = 'subscription($id: ID!) { lectureUpdated(lectureId: $id) { id enrolledCount } }';

interface State {
  url: string;
  lecture: string;
  token?: string;
  warm: boolean;
  receipts: Array<[number, number]>; // [count, epoch ms]
  overflow: boolean;
  closed: boolean;
  /** The last delivery's position. */
  position?: string;
  stop?: () => void;
  dropping: boolean;
  /** After a resume: the counts still awaited, when it subscribed again, when the last came, repeats, refused. */
  awaiting?: Set<number>;
  missed?: number;
  resumedAt?: number;
  caughtUpAt?: number;
  duplicates: number;
  resumeRefused: boolean;
}

const states: State[] = [];
let transport: Transport = 'ws';

/** What every transport does with a result. */
function onResult(state: State, payload: LiveResult | undefined): void {
  if (payload?.errors?.length) {
    const text = JSON.stringify(payload.errors);
    if (text.includes('SUBSCRIPTION_OVERFLOW')) state.overflow = true;
    if (text.includes('RESUME_EXPIRED') || text.includes('BAD_USER_INPUT')) state.resumeRefused = true;
    return;
  }
  const count = payload?.data?.lectureUpdated?.enrolledCount;
  if (count === undefined) return;
  if (payload?.extensions?.eventId) state.position = payload.extensions.eventId;
  if (state.awaiting) {
    if (state.awaiting.delete(count)) {
      if (state.awaiting.size === 0) state.caughtUpAt = now();
    } else if (state.receipts.some(([c]) => c === count)) state.duplicates++;
  }
  if (count === 0) state.warm = true;
  else state.receipts.push([count, now()]);
}

/** Subscribes `state`'s client over the process's transport, from `lastEventId` when given. */
function open(state: State, lastEventId?: string): void {
  state.closed = false;
  state.dropping = false;
  if (transport !== 'ws') {
    const feed = subscribeOver(transport, state.url, QUERY, {
      token: state.token,
      variables: { id: state.lecture },
      lastEventId,
      keep: false,
      onResult: (r) => onResult(state, r),
    });
    state.stop = feed.stop;
    void feed.done.then(() => {
      if (!state.dropping) state.closed = true;
    });
    return;
  }
  // The graphql-transport-ws protocol spoken directly on a `ws` socket: connection_init,
  // subscribe on connection_ack, then `next` / `error` messages. (graphql-ws's client did the
  // same at about twice the CPU per message, and on one machine the clients' CPU is the
  // gateway's loss.)
  const ws = new WebSocket(`${state.url.replace(/^http/, 'ws')}/graphql`, 'graphql-transport-ws');
  ws.on('open', () =>
    ws.send(JSON.stringify({ type: 'connection_init', payload: state.token ? { authorization: `Bearer ${state.token}` } : {} })),
  );
  ws.on('message', (raw) => {
    const m = JSON.parse(String(raw)) as { type: string; payload?: LiveResult };
    if (m.type === 'connection_ack') {
      const payload = { query: QUERY, variables: { id: state.lecture }, ...(lastEventId ? { extensions: { lastEventId } } : {}) };
      ws.send(JSON.stringify({ id: '1', type: 'subscribe', payload }));
    } else if (m.type === 'next') onResult(state, m.payload);
    else if (m.type === 'error' || m.type === 'complete') state.closed = true;
  });
  ws.on('close', () => {
    if (!state.dropping) state.closed = true;
  });
  ws.on('error', () => undefined);
  state.stop = () => ws.close();
}

async function start(msg: Start): Promise<void> {
  transport = msg.transport;
  for (let i = 0; i < msg.clients; i++) {
    const k = msg.offset + i;
    // Every lecture's subscribers spread over every gateway.
    const state: State = {
      url: msg.urls[Math.floor(k / msg.lectures.length) % msg.urls.length],
      lecture: msg.lectures[k % msg.lectures.length],
      token: msg.jwtSecret ? await issueToken({ sub: `s-fanout-${k}`, role: 'STUDENT' }, msg.jwtSecret) : undefined,
      warm: false,
      receipts: [],
      overflow: false,
      closed: false,
      dropping: false,
      duplicates: 0,
      resumeRefused: false,
    };
    states.push(state);
    open(state);
  }
}

const progress = setInterval(() => {
  let warm = 0;
  let received = 0;
  let caughtUp = 0;
  for (const s of states) {
    if (s.warm) warm++;
    received += s.receipts.length;
    if (s.awaiting && s.awaiting.size === 0) caughtUp++;
  }
  process.send?.({ type: 'progress', warm, received, caughtUp });
}, 250);

function report(msg: Sent): void {
  const latencies: number[] = [];
  /** Slowest delivery of each event, by enrolled count (= the event's number). */
  const slowest: Record<number, number> = {};
  let expected = 0;
  let received = 0;
  let overflow = 0;
  let closed = 0;
  let neverArrived = 0;
  for (const s of states) {
    const want = msg.perLecture[s.lecture] ?? 0;
    expected += want;
    const seen = new Set<number>();
    for (const [count, at] of s.receipts) {
      const sentAt = msg.at[`${s.lecture}:${count}`];
      if (sentAt === undefined || seen.has(count)) continue;
      seen.add(count);
      latencies.push(at - sentAt);
      slowest[count] = Math.max(slowest[count] ?? 0, at - sentAt);
    }
    received += seen.size;
    const missing = want - seen.size;
    if (missing <= 0) continue;
    if (s.overflow) overflow += missing;
    else if (s.closed) closed += missing;
    else neverArrived += missing;
  }
  process.send?.({ type: 'report', latencies, slowest, expected, received, overflow, closed, neverArrived });
}

function drop(): void {
  for (const s of states) {
    s.dropping = true;
    s.stop?.();
  }
  setTimeout(() => process.send?.({ type: 'dropped' }), 500);
}

function resume(msg: Resume): void {
  for (const s of states) {
    s.awaiting = new Set(msg.missed[s.lecture] ?? []);
    s.missed = s.awaiting.size;
    s.resumedAt = now();
    s.caughtUpAt = s.awaiting.size ? undefined : s.resumedAt;
    open(s, s.position);
  }
}

function resumed(): void {
  let expected = 0;
  let received = 0;
  let duplicates = 0;
  let failed = 0;
  const catchUp: number[] = [];
  for (const s of states) {
    expected += s.missed ?? 0;
    received += (s.missed ?? 0) - (s.awaiting?.size ?? 0);
    duplicates += s.duplicates;
    if (s.resumeRefused) failed++;
    if (s.caughtUpAt !== undefined && s.resumedAt !== undefined) catchUp.push(s.caughtUpAt - s.resumedAt);
  }
  process.send?.({ type: 'resumed', expected, received, duplicates, failed, catchUp });
}

process.on('message', (msg: Start | Sent | Resume | { type: 'stop' | 'drop' | 'resumed' }) => {
  if (msg.type === 'start') void start(msg);
  else if (msg.type === 'sent') report(msg);
  else if (msg.type === 'drop') drop();
  else if (msg.type === 'resume') resume(msg);
  else if (msg.type === 'resumed') resumed();
  else {
    clearInterval(progress);
    for (const s of states) {
      s.dropping = true;
      s.stop?.();
    }
    setTimeout(() => process.exit(0), 200);
  }
});
