/**
 * The consistency checker: reads the four subgraphs' databases directly (it is an operator's
 * tool, not part of any service) and reports every violation of the system's invariants.
 *
 * Invariants (requirements.md, "Transaction" and "Events"):
 * 1. every CONFIRMED registration has exactly one COMPLETED payment, of the registration's
 *    amount, which is the lecture's price;
 * 2. every CANCELED registration's payment is REFUNDED (or it never had one);
 * 3. no COMPLETED payment exists without a CONFIRMED registration;
 * 4. each lecture's enrolled count equals its CONFIRMED registrations and never exceeds its
 *    capacity; the seat ledger holds exactly the PENDING and CONFIRMED registrations;
 *    a CONFIRMED registration holds the seat it records; an attempt in flight (an outbox claim
 *    on a registration not stored yet) may hold one;
 * 5. every registration has a dashboard line (the fold of its facts) whose statuses match the sources;
 * 6. no change stays unfinished (its outbox claim, i.e. events possibly unpublished) longer than
 *    `outboxMaxAgeMs` past the claim's own staleness limit, and no registration stays PENDING
 *    longer than `pendingMaxAgeMs`;
 * 7. every notifying event has exactly one notification for its student: a registration
 *    confirmed (CONFIRMED or CANCELED now), canceled (CANCELED), or whose payment failed
 *    (FAILED), and a payment refunded (REFUNDED); and no notification stands for none of these.
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
  /** Number of the invariant above (1–7). */
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

/** Checks the invariants on the databases at `uris`; resolves with every violation found (empty when consistent). */
export async function checkConsistency(uris: DatabaseUris, opts: CheckOptions = {}): Promise<Violation[]> {
  const now = (opts.now ?? new Date()).getTime();
  const outboxMax = opts.outboxMaxAgeMs ?? 30_000;
  const pendingMax = opts.pendingMaxAgeMs ?? 60_000;
  const conns = await Promise.all(
    Object.values(uris).map((u) => mongoose.createConnection(u, { serverSelectionTimeoutMS: 5_000 }).asPromise()),
  );
  const [reg, pay, lec, dash] = conns;
  try {
    const [registrations, payments, lectures, entries, notifications, seats, regClaims, payClaims, lecClaims] = await Promise.all([
      all(reg, 'registrations'),
      all(pay, 'payments', { outbox: 0 }),
      all(lec, 'lectures', { enrolled: 0, released: 0 }),
      all(dash, 'dashboard_facts'),
      all(dash, 'notifications', { registrationId: 1, kind: 1, studentId: 1 }),
      all(reg, 'seats'),
      all(reg, '_outbox'),
      all(pay, '_outbox'),
      all(lec, '_outbox'),
    ]);
    const claims = { registration: regClaims, payment: payClaims, lecture: lecClaims };
    const v: Violation[] = [];
    const add = (invariant: number, subject: string, message: string) => v.push({ invariant, subject, message });

    const paymentsByRegistration = new Map<string, Doc[]>();
    for (const p of payments) paymentsByRegistration.set(p.registrationId, [...(paymentsByRegistration.get(p.registrationId) ?? []), p]);
    const registrationsById = new Map(registrations.map((r) => [String(r._id), r]));
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
      if (r.status === 'CANCELED') {
        for (const p of ps) if (p.status !== 'REFUNDED') add(2, `registration ${id}`, `CANCELED but payment ${p._id} is ${p.status}`);
      }
      if (r.status === 'PENDING' && now - new Date(r.createdAt).getTime() > pendingMax) {
        add(6, `registration ${id}`, `PENDING for ${Math.round((now - new Date(r.createdAt).getTime()) / 1000)} s`);
      }
      if (r.status === 'CONFIRMED' || r.status === 'CANCELED') {
        const e = entriesById.get(id);
        const paymentStatus = r.status === 'CONFIRMED' ? 'COMPLETED' : ps.length ? 'REFUNDED' : undefined;
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

    for (const p of payments) {
      if (p.status !== 'COMPLETED') continue;
      const r = registrationsById.get(p.registrationId);
      if (!r || r.status !== 'CONFIRMED')
        add(3, `payment ${p._id}`, `COMPLETED but registration ${p.registrationId} is ${r?.status ?? 'missing'}`);
    }

    // Attempts in flight: an outbox claim on a registration id, not stored yet (a seat may be held for it).
    const attempts = new Map<string, Doc>();
    for (const c of claims.registration)
      if (c.collection === 'registrations' && !registrationsById.has(String(c.docId))) attempts.set(String(c.docId), c);
    const confirmedByLecture = new Map<string, number>();
    const liveByLecture = new Map<string, Set<string>>();
    for (const r of registrations) {
      if (r.status === 'CONFIRMED') confirmedByLecture.set(r.lectureId, (confirmedByLecture.get(r.lectureId) ?? 0) + 1);
      if (r.status === 'CONFIRMED' || r.status === 'PENDING')
        liveByLecture.set(r.lectureId, (liveByLecture.get(r.lectureId) ?? new Set()).add(String(r._id)));
    }
    for (const [id, c] of attempts) {
      const lectureId = c.data?.lectureId;
      if (lectureId) liveByLecture.set(lectureId, (liveByLecture.get(lectureId) ?? new Set()).add(id));
      if (now - new Date(c.at).getTime() > pendingMax)
        add(6, `registration ${id}`, `attempt in flight for ${Math.round((now - new Date(c.at).getTime()) / 1000)} s`);
    }
    const seatsByLecture = new Map<string, Set<string>>();
    for (const s of seats) seatsByLecture.set(s.lectureId, (seatsByLecture.get(s.lectureId) ?? new Set()).add(s.registrationId));
    const seatsById = new Map(seats.map((s) => [String(s._id), s]));
    for (const r of registrations) {
      if (r.status === 'CONFIRMED' && r.seat && seatsById.get(r.seat)?.registrationId !== String(r._id)) {
        add(4, `registration ${r._id}`, `records seat ${r.seat}, which it does not hold`);
      }
    }
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

    // 7. Notifications: exactly the expected ones, once each, keyed by registration and kind.
    const expected = new Map<string, string>(); // `<registrationId>:<kind>` → student
    for (const r of registrations) {
      const id = String(r._id);
      if (r.status === 'CONFIRMED' || r.status === 'CANCELED') expected.set(`${id}:REGISTRATION_CONFIRMED`, r.studentId);
      if (r.status === 'CANCELED') expected.set(`${id}:REGISTRATION_CANCELED`, r.studentId);
      if (r.status === 'FAILED') expected.set(`${id}:PAYMENT_FAILED`, r.studentId);
    }
    for (const p of payments) if (p.status === 'REFUNDED') expected.set(`${p.registrationId}:PAYMENT_REFUNDED`, p.studentId);
    const found = new Map<string, Doc[]>();
    for (const n of notifications) found.set(`${n.registrationId}:${n.kind}`, [...(found.get(`${n.registrationId}:${n.kind}`) ?? []), n]);
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

    for (const [name, list] of Object.entries(claims)) {
      for (const c of list) {
        const age = now - new Date(c.at).getTime();
        if (age > (c.staleAfterMs ?? 0) + outboxMax)
          add(6, `${name} ${c._id}`, `change unfinished (events possibly unpublished) for ${Math.round(age / 1000)} s`);
      }
    }
    return v;
  } finally {
    await Promise.all(conns.map((c) => c.close()));
  }
}

/** Human-readable report of violations, one per line. */
export function formatViolations(v: Violation[]): string {
  return v.map((x) => `  [${x.invariant}] ${x.subject}: ${x.message}`).join('\n');
}
