/**
 * Stores N registrations straight in the four contexts' databases, consistent with each other,
 * as if the system had taken them through its API (which would take about N / 50 seconds here):
 * `npm run bench:load -- --preload 100000` measures registration on an empty database and then on
 * one that holds them.
 *
 * Shape: N / 100 lectures of 100 seats, each with 100 registrations by different students; half
 * of them CONFIRMED (seat held, payment COMPLETED, counted in the lecture's enrolled count) and
 * half CANCELED (seat freed, payment REFUNDED). Every registration has its dashboard facts. The
 * documents are those the services write (the same ids and fields, the events of their last
 * change in their outbox), in batches of 1,000.
 * Nothing is published: the events of these registrations are history no consumer needs.
 */
import mongoose, { type Connection } from 'mongoose';
import { createEvent } from '@courses/contracts';
import type { DatabaseUris } from '@courses/devkit/consistency';
import { newId } from '@courses/platform';
import { factId, type Fact } from '../../subgraphs/dashboard/src/domain/dashboard.js';
import { paymentIdOf } from '../../subgraphs/payment/src/domain/payment.js';
import { seatId } from '../../subgraphs/registration/src/domain/registration.js';
import { holderId } from '../../subgraphs/registration/src/infrastructure/seat-repository.js';

const PER_LECTURE = 100;
const PRICE = 50_000;

/** Inserts `docs` into `collection` in batches of 1,000. */
async function insert(conn: Connection, collection: string, docs: object[]): Promise<void> {
  for (let i = 0; i < docs.length; i += 1_000)
    await conn.collection(collection).insertMany(docs.slice(i, i + 1_000) as never[], { ordered: false });
}

/** The documents of one preloaded lecture's registrations, by collection. */
interface Batch {
  registrations: object[];
  seats: object[];
  payments: object[];
  facts: object[];
  enrolled: string[];
  released: string[];
}

/** One lecture's header: what its registrations copy from it. */
interface LectureHeader {
  lectureId: string;
  instructorId: string;
  title: string;
  at: Date;
}

/** Adds registration `i` of lecture `h` to `batch`: the registration, its seat, payment and dashboard facts. */
function addRegistration(batch: Batch, h: LectureHeader, l: number, i: number): void {
  const { lectureId, instructorId, title, at } = h;
  const id = newId();
  const studentId = `s-preload-${(l * 7 + i) % 20_000}-${i}`;
  const paymentId = paymentIdOf(id);
  const confirmed = i % 2 === 0;
  const seat = seatId(lectureId, i + 1);
  const keys = { registrationId: id, studentId, lectureId, instructorId };
  batch.registrations.push({
    _id: id,
    studentId,
    lectureId,
    instructorId,
    lectureTitle: title,
    amount: PRICE,
    status: confirmed ? 'CONFIRMED' : 'CANCELED',
    cancellationReason: confirmed ? null : 'STUDENT_REQUEST',
    paymentId,
    seat,
    waitlistedAt: null,
    seatedAt: at,
    // What the service leaves in the document: the events of its last change, published.
    outbox: [
      confirmed
        ? createEvent('registration.confirmed', { ...keys, lectureTitle: title, paymentId, amount: PRICE }, at)
        : createEvent('registration.canceled', { ...keys, reason: 'STUDENT_REQUEST', paymentId }, at),
    ],
    createdAt: at,
    updatedAt: at,
  });
  if (confirmed)
    batch.seats.push(
      { _id: seat, kind: 'seat', lectureId, registrationId: id, takenAt: at },
      { _id: holderId(studentId, lectureId), kind: 'holder', lectureId, registrationId: id, takenAt: at },
    );
  (confirmed ? batch.enrolled : batch.released).push(id);
  batch.payments.push({
    _id: paymentId,
    registrationId: id,
    studentId,
    lectureId,
    amount: PRICE,
    status: confirmed ? 'COMPLETED' : 'REFUNDED',
    outbox: [
      createEvent(
        confirmed ? 'payment.completed' : 'payment.refunded',
        { paymentId, registrationId: id, studentId, lectureId, amount: PRICE },
        at,
      ),
    ],
    createdAt: at,
    updatedAt: at,
  });
  const k = { registrationId: id, studentId, lectureId, at };
  const own: Fact[] = [
    { ...k, kind: 'registration', status: 'CONFIRMED', lectureTitle: title },
    { ...k, kind: 'payment', status: 'COMPLETED' },
    ...(confirmed
      ? []
      : ([
          { ...k, kind: 'registration', status: 'CANCELED' },
          { ...k, kind: 'payment', status: 'REFUNDED' },
        ] as Fact[])),
  ];
  for (const f of own) batch.facts.push({ _id: factId(f), ...f, projectedAt: at, lagMs: 0 });
}

/** Stores preloaded lecture `l` and its registrations through the four connections. */
async function preloadLecture([reg, pay, lec, dash]: Connection[], l: number, at: Date): Promise<void> {
  const h: LectureHeader = { lectureId: newId(), instructorId: `i-preload-${l % 50}`, title: `Preloaded lecture ${l}`, at };
  const batch: Batch = { registrations: [], seats: [], payments: [], facts: [], enrolled: [], released: [] };
  for (let i = 0; i < PER_LECTURE; i++) addRegistration(batch, h, l, i);
  const lecture = { title: h.title, instructorId: h.instructorId, capacity: PER_LECTURE, price: PRICE, status: 'OPEN' };
  await lec.collection('lectures').insertOne({
    _id: h.lectureId as never,
    ...lecture,
    enrolledCount: batch.enrolled.length,
    enrolled: batch.enrolled,
    released: batch.released,
    outbox: [],
    createdAt: at,
    updatedAt: at,
  });
  await reg.collection('catalog').insertOne({ _id: h.lectureId as never, ...lecture, createdAt: at, updatedAt: at });
  await Promise.all([
    insert(reg, 'registrations', batch.registrations),
    insert(reg, 'seats', batch.seats),
    insert(pay, 'payments', batch.payments),
    insert(dash, 'dashboard_facts', batch.facts),
  ]);
}

/** Stores `count` registrations (rounded up to a multiple of 100) in the databases at `uris`. */
export async function preload(uris: DatabaseUris, count: number): Promise<void> {
  const conns = await Promise.all(Object.values(uris).map((u) => mongoose.createConnection(u).asPromise()));
  try {
    const at = new Date();
    for (let l = 0; l < Math.ceil(count / PER_LECTURE); l++) await preloadLecture(conns, l, at);
  } finally {
    await Promise.all(conns.map((c) => c.close()));
  }
}
