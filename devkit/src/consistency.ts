/**
 * The consistency checker: reads the four subgraphs' databases directly (it is an operator's
 * tool, not part of any service) and reports every violation of the system's invariants.
 *
 * Invariants (requirements.md, "Transaction" and "Events"):
 * 1. every CONFIRMED registration has exactly one COMPLETED payment, of the registration's
 *    amount, which is the lecture's price;
 * 2. no CANCELED registration's payment is COMPLETED: it was refunded (REFUNDED), or a waitlist
 *    place's charge was voided before it was made (VOIDED), or it never had one;
 * 3. no COMPLETED payment exists without a CONFIRMED registration;
 * 4. each lecture's enrolled count equals its CONFIRMED registrations and never exceeds its
 *    capacity; the seat ledger's seats are held exactly by the PENDING and CONFIRMED
 *    registrations (and by WAITLISTED ones being enrolled), and its holders (one per student and
 *    lecture) exactly by the live ones, WAITLISTED included; a CONFIRMED registration holds the
 *    seat it records; an attempt in flight (an outbox claim on a registration not stored yet)
 *    may hold a seat and a holder;
 * 5. every registration has a dashboard line (the fold of its facts) whose statuses match the sources;
 * 6. no change stays unfinished (its outbox claim, i.e. events possibly unpublished) longer than
 *    `outboxMaxAgeMs` past the claim's own staleness limit, and no registration stays PENDING
 *    longer than `pendingMaxAgeMs`;
 * 7. every notifying event has exactly one notification for its student: a registration
 *    waitlisted (it has `waitlistedAt`), confirmed (CONFIRMED, or CANCELED with a payment),
 *    canceled (CANCELED), or whose payment failed (FAILED), and a payment refunded (REFUNDED);
 *    and no notification stands for none of these;
 * 8. the waitlists: each lecture's line holds exactly its WAITLISTED registrations, first come
 *    first served (in the order they joined), within its limit; no WAITLISTED registration has a
 *    COMPLETED payment (no charge while waiting); and no student got a seat past an earlier
 *    waiting one: no registration took a seat directly while another was waiting for one, and no
 *    waitlist place got a seat before a place that joined earlier and still waited.
 * The checker sees one moment: run it once the system is quiet (or retry until green).
 */
import mongoose, { type Connection } from 'mongoose';
import { fold, type Fact } from '../../subgraphs/dashboard/src/domain/dashboard.js';

/** Where each subgraph's database is. */
export interface DatabaseUris {
  registration: string;
  payment: string;
  lecture: string;
  dashboard: string;
}

export interface Violation {
  /** Number of the invariant above (1–8). */
  invariant: number;
  /** The aggregate concerned, e.g. `registration 6b01…`. */
  subject: string;
  message: string;
}

export interface CheckOptions {
  /** How long past its staleness limit a change may stay unfinished (its events unpublished), ms (default 30000). */
  outboxMaxAgeMs?: number;
  /** Longest a registration may stay PENDING, ms (default 60000). */
  pendingMaxAgeMs?: number;
  now?: Date;
}

type Doc = Record<string, any>;

async function all(conn: Connection, collection: string, projection: Doc = {}): Promise<Doc[]> {
  return conn.collection(collection).find({}, { projection }).toArray();
}

/** Records one violation. */
type Add = (invariant: number, subject: string, message: string) => void;

/** What the checker reads: every document it looks at, from the four databases at one moment. */
interface State {
  registrations: Doc[];
  payments: Doc[];
  lectures: Doc[];
  /** The dashboard's facts. */
  entries: Doc[];
  notifications: Doc[];
  /** The seat ledger: seats and holders. */
  seats: Doc[];
  waitlists: Doc[];
  /** Each subgraph's outbox claims (changes not finished). */
  claims: Record<'registration' | 'payment' | 'lecture', Doc[]>;
}

/** Reads the state the checker looks at through the four connections. */
async function readState([reg, pay, lec, dash]: Connection[]): Promise<State> {
  const [registrations, payments, lectures, entries, notifications, seats, regClaims, payClaims, lecClaims, waitlists] = await Promise.all([
    all(reg, 'registrations'),
    all(pay, 'payments', { outbox: 0 }),
    all(lec, 'lectures', { enrolled: 0, released: 0 }),
    all(dash, 'dashboard_facts'),
    all(dash, 'notifications', { registrationId: 1, kind: 1, studentId: 1 }),
    all(reg, 'seats'),
    all(reg, '_outbox'),
    all(pay, '_outbox'),
    all(lec, '_outbox'),
    all(reg, 'waitlists', { outbox: 0 }),
  ]);
  const claims = { registration: regClaims, payment: payClaims, lecture: lecClaims };
  return { registrations, payments, lectures, entries, notifications, seats, waitlists, claims };
}

/** Checks the invariants on the databases at `uris`; resolves with every violation found (empty when consistent). */
export async function checkConsistency(uris: DatabaseUris, opts: CheckOptions = {}): Promise<Violation[]> {
  const limits: Limits = {
    now: (opts.now ?? new Date()).getTime(),
    outboxMax: opts.outboxMaxAgeMs ?? 30_000,
    pendingMax: opts.pendingMaxAgeMs ?? 60_000,
  };
  const conns = await Promise.all(
    Object.values(uris).map((u) => mongoose.createConnection(u, { serverSelectionTimeoutMS: 5_000 }).asPromise()),
  );
  try {
    const state = await readState(conns);
    const v: Violation[] = [];
    const add: Add = (invariant, subject, message) => v.push({ invariant, subject, message });
    checkRegistrations(state, limits, add);
    checkPayments(state, add);
    checkSeats(state, limits, add);
    checkWaitlists(state.registrations, state.waitlists, add);
    checkNotifications(state, add);
    checkClaims(state, limits, add);
    return v;
  } finally {
    await Promise.all(conns.map((c) => c.close()));
  }
}

/** The moment the checker sees (ms since the epoch) and how old an unfinished change or PENDING registration may be (ms). */
interface Limits {
  now: number;
  outboxMax: number;
  pendingMax: number;
}

/** Groups `docs` by `key`. */
function groupBy(docs: Doc[], key: (d: Doc) => string): Map<string, Doc[]> {
  const by = new Map<string, Doc[]>();
  for (const d of docs) by.set(key(d), [...(by.get(key(d)) ?? []), d]);
  return by;
}

/** Invariants 1, 2, 5, 6 (PENDING) and 8 (no charge while waiting), per registration. */
function checkRegistrations({ registrations, payments, lectures, entries }: State, { now, pendingMax }: Limits, add: Add): void {
  const paymentsByRegistration = groupBy(payments, (p) => p.registrationId);
  const lecturesById = new Map(lectures.map((l) => [String(l._id), l]));
  const entriesById = new Map(fold(entries as unknown as Fact[]).map((e) => [e.registrationId, e]));
  for (const r of registrations) {
    const id = String(r._id);
    const ps = paymentsByRegistration.get(id) ?? [];
    const completed = ps.filter((p) => p.status === 'COMPLETED');
    if (r.status === 'CONFIRMED') {
      if (completed.length !== 1) add(1, `registration ${id}`, `CONFIRMED with ${completed.length} COMPLETED payments`);
      for (const p of completed)
        if (p.amount !== r.amount)
          add(1, `registration ${id}`, `payment ${p._id} charged ${p.amount} KRW, registration says ${r.amount} KRW`);
      const lecture = lecturesById.get(r.lectureId);
      if (lecture && lecture.price !== r.amount)
        add(1, `registration ${id}`, `charged ${r.amount} KRW but lecture ${r.lectureId} costs ${lecture.price} KRW`);
    }
    if (r.status === 'CANCELED') for (const p of completed) add(2, `registration ${id}`, `CANCELED but payment ${p._id} is ${p.status}`);
    if (r.status === 'WAITLISTED') for (const p of completed) add(8, `registration ${id}`, `WAITLISTED but charged (payment ${p._id})`);
    if (r.status === 'PENDING' && now - new Date(r.createdAt).getTime() > pendingMax) {
      add(6, `registration ${id}`, `PENDING for ${Math.round((now - new Date(r.createdAt).getTime()) / 1000)} s`);
    }
    if (r.status === 'CONFIRMED' || r.status === 'CANCELED' || r.status === 'WAITLISTED') {
      const e = entriesById.get(id);
      const paymentStatus = r.status === 'CONFIRMED' ? 'COMPLETED' : ps.some((p) => p.status === 'REFUNDED') ? 'REFUNDED' : undefined;
      if (!e) add(5, `registration ${id}`, 'no dashboard entry');
      else if (e.registrationStatus !== r.status || (paymentStatus && e.paymentStatus !== paymentStatus)) {
        add(
          5,
          `registration ${id}`,
          `dashboard shows ${e.registrationStatus}/${e.paymentStatus}, sources say ${r.status}/${paymentStatus}`,
        );
      }
    }
  }
}

/** Invariant 3: no COMPLETED payment without a CONFIRMED registration. */
function checkPayments({ registrations, payments }: State, add: Add): void {
  const registrationsById = new Map(registrations.map((r) => [String(r._id), r]));
  for (const p of payments) {
    if (p.status !== 'COMPLETED') continue;
    const r = registrationsById.get(p.registrationId);
    if (!r || r.status !== 'CONFIRMED')
      add(3, `payment ${p._id}`, `COMPLETED but registration ${p.registrationId} is ${r?.status ?? 'missing'}`);
  }
}

/**
 * Who may hold what in the seat ledger: the registrations that may hold a seat, by lecture
 * (`live`), and those that must hold a holder (`placed`), attempts in flight included; invariant
 * 6 for an attempt in flight too long.
 */
function liveAndPlaced({ registrations, waitlists, claims }: State, { now, pendingMax }: Limits, add: Add) {
  const registrationIds = new Set(registrations.map((r) => String(r._id)));
  // Attempts in flight: an outbox claim on a registration id, not stored yet (a seat may be held for it).
  const attempts = new Map<string, Doc>();
  for (const c of claims.registration)
    if (c.collection === 'registrations' && !registrationIds.has(String(c.docId))) attempts.set(String(c.docId), c);
  const live = new Map<string, Set<string>>();
  const placed = new Set<string>();
  const offered = new Set<string>();
  for (const w of waitlists) for (const e of w.entries ?? []) if (e.offer) offered.add(String(e.registrationId));
  const addLive = (lectureId: string, id: string) => live.set(lectureId, (live.get(lectureId) ?? new Set()).add(id));
  for (const r of registrations) {
    const id = String(r._id);
    if (r.status === 'CONFIRMED' || r.status === 'PENDING' || (r.status === 'WAITLISTED' && offered.has(id))) addLive(r.lectureId, id);
    if (r.status === 'CONFIRMED' || r.status === 'PENDING' || r.status === 'WAITLISTED') placed.add(id);
  }
  for (const [id, c] of attempts) {
    const lectureId = c.data?.lectureId;
    if (lectureId) addLive(lectureId, id);
    placed.add(id);
    if (now - new Date(c.at).getTime() > pendingMax)
      add(6, `registration ${id}`, `attempt in flight for ${Math.round((now - new Date(c.at).getTime()) / 1000)} s`);
  }
  return { live, placed };
}

/** Invariant 4: enrolled counts, capacity, and the seat ledger's seats and holders. */
function checkSeats(state: State, limits: Limits, add: Add): void {
  const { registrations, lectures, seats } = state;
  const { live: liveByLecture, placed } = liveAndPlaced(state, limits, add);
  const confirmedByLecture = new Map<string, number>();
  for (const r of registrations)
    if (r.status === 'CONFIRMED') confirmedByLecture.set(r.lectureId, (confirmedByLecture.get(r.lectureId) ?? 0) + 1);
  const seatDocs = seats.filter((s) => s.kind !== 'holder');
  const holderDocs = seats.filter((s) => s.kind === 'holder');
  const seatsByLecture = new Map<string, Set<string>>();
  for (const s of seatDocs) seatsByLecture.set(s.lectureId, (seatsByLecture.get(s.lectureId) ?? new Set()).add(s.registrationId));
  const seatsById = new Map(seatDocs.map((s) => [String(s._id), s]));
  for (const r of registrations) {
    if (r.status === 'CONFIRMED' && r.seat && seatsById.get(r.seat)?.registrationId !== String(r._id)) {
      add(4, `registration ${r._id}`, `records seat ${r.seat}, which it does not hold`);
    }
  }
  const holderOf = new Map(holderDocs.map((h) => [String(h.registrationId), h]));
  for (const id of placed) if (!holderOf.has(id)) add(4, `registration ${id}`, 'is live but has no holder in the seat ledger');
  for (const h of holderDocs)
    if (!placed.has(String(h.registrationId))) add(4, `holder ${h._id}`, `held by registration ${h.registrationId}, which is not live`);
  for (const l of lectures) {
    const id = String(l._id);
    const confirmed = confirmedByLecture.get(id) ?? 0;
    if (l.enrolledCount !== confirmed) add(4, `lecture ${id}`, `enrolled count ${l.enrolledCount}, confirmed registrations ${confirmed}`);
    if (confirmed > l.capacity) add(4, `lecture ${id}`, `${confirmed} confirmed registrations exceed capacity ${l.capacity}`);
    const held = seatsByLecture.get(id) ?? new Set();
    const live = liveByLecture.get(id) ?? new Set();
    if (held.size > l.capacity) add(4, `lecture ${id}`, `${held.size} seats taken of ${l.capacity}`);
    for (const rid of live) if (!held.has(rid)) add(4, `lecture ${id}`, `registration ${rid} is live but holds no seat`);
    for (const rid of held) if (!live.has(rid)) add(4, `lecture ${id}`, `seat held by registration ${rid}, which is not live`);
  }
}

/** Invariant 7: exactly the expected notifications, once each, keyed by registration and kind. */
function checkNotifications({ registrations, payments, notifications }: State, add: Add): void {
  const expected = new Map<string, string>(); // `<registrationId>:<kind>` → student
  for (const r of registrations) {
    const id = String(r._id);
    if (r.waitlistedAt) expected.set(`${id}:REGISTRATION_WAITLISTED`, r.studentId);
    if (r.status === 'CONFIRMED' || (r.status === 'CANCELED' && r.paymentId)) expected.set(`${id}:REGISTRATION_CONFIRMED`, r.studentId);
    if (r.status === 'CANCELED') expected.set(`${id}:REGISTRATION_CANCELED`, r.studentId);
    if (r.status === 'FAILED') expected.set(`${id}:PAYMENT_FAILED`, r.studentId);
  }
  for (const p of payments) if (p.status === 'REFUNDED') expected.set(`${p.registrationId}:PAYMENT_REFUNDED`, p.studentId);
  const found = groupBy(notifications, (n) => `${n.registrationId}:${n.kind}`);
  for (const [key, studentId] of expected) {
    const [registrationId, kind] = key.split(':');
    const list = found.get(key) ?? [];
    if (list.length !== 1) add(7, `registration ${registrationId}`, `${list.length} ${kind} notifications, expected 1`);
    else if (list[0].studentId !== studentId)
      add(7, `registration ${registrationId}`, `${kind} notification for ${list[0].studentId}, not ${studentId}`);
  }
  for (const [key, list] of found) {
    if (!expected.has(key))
      add(7, `registration ${key.split(':')[0]}`, `${list.length} ${key.split(':')[1]} notifications for nothing that happened`);
  }
}

/** Invariant 6: no change unfinished (its events possibly unpublished) longer than its claim's staleness limit plus `outboxMax`. */
function checkClaims({ claims }: State, { now, outboxMax }: Limits, add: Add): void {
  for (const [name, list] of Object.entries(claims)) {
    for (const c of list) {
      const age = now - new Date(c.at).getTime();
      if (age > (c.staleAfterMs ?? 0) + outboxMax)
        add(6, `${name} ${c._id}`, `change unfinished (events possibly unpublished) for ${Math.round(age / 1000)} s`);
    }
  }
}

/** Invariant 8 (see the module doc), per lecture. */
function checkWaitlists(registrations: Doc[], waitlists: Doc[], add: Add): void {
  const byLecture = groupBy(registrations, (r) => r.lectureId);
  const lines = new Map(waitlists.map((w) => [String(w._id), w]));
  const t = (d: unknown) => (d ? new Date(d as string).getTime() : undefined);
  for (const [lectureId, regs] of byLecture) {
    const line = lines.get(lectureId);
    const entries: Doc[] = line?.entries ?? [];
    const inLine = new Set(entries.map((e) => String(e.registrationId)));
    for (const r of regs)
      if (r.status === 'WAITLISTED' && !inLine.has(String(r._id)))
        add(8, `registration ${r._id}`, `WAITLISTED but not in lecture ${lectureId}'s line`);
    const status = new Map(regs.map((r) => [String(r._id), r.status]));
    for (const e of entries)
      if (status.get(String(e.registrationId)) !== 'WAITLISTED')
        add(
          8,
          `lecture ${lectureId}`,
          `line holds registration ${e.registrationId}, which is ${status.get(String(e.registrationId)) ?? 'missing'}`,
        );
    if (line && entries.length > line.limit) add(8, `lecture ${lectureId}`, `${entries.length} places in line, limit ${line.limit}`);
    for (let i = 1; i < entries.length; i++)
      if (t(entries[i].joinedAt)! < t(entries[i - 1].joinedAt)!) add(8, `lecture ${lectureId}`, `line out of order at position ${i + 1}`);
    // Who waited, from when until when (a seat, or the end of the place).
    const waiters = regs
      .filter((r) => r.waitlistedAt)
      .map((r) => ({
        id: String(r._id),
        from: t(r.waitlistedAt)!,
        until: t(r.seatedAt) ?? (r.status === 'CANCELED' ? t(r.updatedAt)! : Infinity),
        seated: t(r.seatedAt),
      }));
    if (!waiters.length) continue;
    for (const r of regs) {
      const seatedAt = t(r.seatedAt);
      if (seatedAt === undefined) continue;
      const direct = !r.waitlistedAt;
      const from = t(r.waitlistedAt);
      for (const w of waiters) {
        if (w.id === String(r._id) || !(w.from < seatedAt && w.until > seatedAt)) continue;
        // A direct seat while w waited; or a later place seated before w.
        if (direct || (from !== undefined && from > w.from))
          add(
            8,
            `registration ${r._id}`,
            `got a seat ${direct ? 'directly ' : ''}while registration ${w.id}, waiting since earlier, had none`,
          );
      }
    }
  }
}

/** Human-readable report of violations, one per line. */
export function formatViolations(v: Violation[]): string {
  return v.map((x) => `  [${x.invariant}] ${x.subject}: ${x.message}`).join('\n');
}
