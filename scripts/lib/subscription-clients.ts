/**
 * A process of graphql-ws clients for `npm run bench:subscriptions`, apart from the gateway and
 * from the bench's own process, so that the clients' CPU is not the gateway's. Driven over IPC:
 *
 *   parent → { type: 'start', urls, lectures, clients, offset, jwtSecret? }   connect `clients` clients
 *            (anonymous, or each its own student when jwtSecret is given);
 *            client k = offset+i watches lectures[k % L] on urls[⌊k / L⌋ % urls.length]
 *   child  → { type: 'progress', warm, received }                 every 250 ms: clients that got their
 *            first (warm-up) payload, and measured payloads received
 *   parent → { type: 'sent', at: { '<lecture>:<count>': epochMs } , perLecture: { '<lecture>': n } }
 *   child  → { type: 'report', latencies, slowest (per event number), expected, received, overflow, closed, neverArrived }
 *
 * A payload is "measured" when its enrolled count is one the parent published (count ≥ 1); its
 * latency is receipt time minus publish time, both `performance.timeOrigin + performance.now()`
 * (one machine, one clock). A missing delivery is put down to the first cause that applies to its
 * client: the subscription ended with SUBSCRIPTION_OVERFLOW, the socket closed, or it never came.
 */
import WebSocket from 'ws';
import { issueToken } from '../../gateway/src/auth.js';

interface Start {
  type: 'start';
  urls: string[];
  lectures: string[];
  clients: number;
  offset: number;
  /** When given, client k signs in as student `s-fanout-<k>` with a token signed by this (dev) secret. */
  jwtSecret?: string;
}
interface Sent {
  type: 'sent';
  at: Record<string, number>;
  perLecture: Record<string, number>;
}

const now = () => performance.timeOrigin + performance.now();
const QUERY = 'subscription($id: ID!) { lectureUpdated(lectureId: $id) { id enrolledCount } }';

interface State {
  lecture: string;
  warm: boolean;
  receipts: Array<[number, number]>; // [count, epoch ms]
  overflow: boolean;
  closed: boolean;
}

const states: State[] = [];
const sockets: WebSocket[] = [];

async function start(msg: Start): Promise<void> {
  for (let i = 0; i < msg.clients; i++) {
    const k = msg.offset + i;
    // Every lecture's subscribers spread over every gateway.
    const state: State = { lecture: msg.lectures[k % msg.lectures.length], warm: false, receipts: [], overflow: false, closed: false };
    states.push(state);
    // The graphql-transport-ws protocol spoken directly on a `ws` socket: connection_init,
    // subscribe on connection_ack, then `next` / `error` messages. (graphql-ws's client did the
    // same at about twice the CPU per message, and on one machine the clients' CPU is the
    // gateway's loss.)
    const ws = new WebSocket(
      `${msg.urls[Math.floor(k / msg.lectures.length) % msg.urls.length].replace(/^http/, 'ws')}/graphql`,
      'graphql-transport-ws',
    );
    const authorization = msg.jwtSecret
      ? `Bearer ${await issueToken({ sub: `s-fanout-${k}`, role: 'STUDENT' }, msg.jwtSecret)}`
      : undefined;
    ws.on('open', () => ws.send(JSON.stringify({ type: 'connection_init', payload: authorization ? { authorization } : {} })));
    ws.on('message', (raw) => {
      const m = JSON.parse(String(raw)) as { type: string; payload?: any };
      if (m.type === 'connection_ack') {
        ws.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: QUERY, variables: { id: state.lecture } } }));
      } else if (m.type === 'next') {
        if (m.payload?.errors?.length) {
          if (JSON.stringify(m.payload.errors).includes('SUBSCRIPTION_OVERFLOW')) state.overflow = true;
          return;
        }
        const count = m.payload?.data?.lectureUpdated?.enrolledCount;
        if (count === undefined) return;
        if (count === 0) state.warm = true;
        else state.receipts.push([count, now()]);
      } else if (m.type === 'error' || m.type === 'complete') {
        state.closed = true;
      }
    });
    ws.on('close', () => (state.closed = true));
    ws.on('error', () => undefined);
    sockets.push(ws);
  }
}

const progress = setInterval(() => {
  let warm = 0;
  let received = 0;
  for (const s of states) {
    if (s.warm) warm++;
    received += s.receipts.length;
  }
  process.send?.({ type: 'progress', warm, received });
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

process.on('message', (msg: Start | Sent | { type: 'stop' }) => {
  if (msg.type === 'start') void start(msg);
  else if (msg.type === 'sent') report(msg);
  else {
    clearInterval(progress);
    for (const ws of sockets) ws.close();
    setTimeout(() => process.exit(0), 200);
  }
});
