/**
 * The dashboard read model: the facts of ../domain/dashboard.ts, written only by event
 * projections. Projecting is insert-only (one `insertMany` per batch of events; a fact already
 * stored is a duplicate-key error and is skipped), so concurrent projections, replicas and
 * redeliveries never overwrite each other, on MongoDB and FerretDB alike, without any lock.
 * Reading a student's dashboard reads their facts and folds them.
 */
import { Schema, type Connection, type Model } from 'mongoose';
import { insertNew } from '@courses/platform';
import { factId, fold, type DashboardEntry, type Fact } from '../domain/dashboard.js';

interface FactDoc {
  _id: string;
  registrationId: string;
  studentId: string;
  lectureId: string;
  lectureTitle?: string;
  kind: Fact['kind'];
  status: Fact['status'];
  at: Date;
  /** When the projection stored the fact (this process's clock). */
  projectedAt: Date;
  /** Milliseconds from the state change (event time) to its projection: the read model's lag. */
  lagMs: number;
}

const schema = new Schema<FactDoc>(
  {
    _id: { type: String, required: true },
    registrationId: { type: String, required: true },
    studentId: { type: String, required: true, index: true },
    lectureId: { type: String, required: true },
    lectureTitle: String,
    kind: { type: String, required: true },
    status: { type: String, required: true },
    at: { type: Date, required: true },
    projectedAt: { type: Date, required: true },
    lagMs: { type: Number, required: true },
  },
  { versionKey: false, collection: 'dashboard_facts' },
);

export class DashboardRepository {
  readonly model: Model<FactDoc>;

  constructor(conn: Connection) {
    this.model = conn.model<FactDoc>('DashboardFact', schema);
  }

  /** Lines of a student's dashboard, most recently changed first. */
  async forStudent(studentId: string): Promise<DashboardEntry[]> {
    const docs = await this.model.collection.find({ studentId }, { projection: { projectedAt: 0, lagMs: 0 } }).toArray();
    return fold(docs as unknown as Fact[]);
  }

  /** Stores facts not stored yet (one command); repeats are skipped. */
  async record(facts: readonly Fact[]): Promise<void> {
    const now = new Date();
    await insertNew(
      this.model.collection,
      facts.map((f) => ({ _id: factId(f), ...f, projectedAt: now, lagMs: now.getTime() - f.at.getTime() })),
    );
  }
}
