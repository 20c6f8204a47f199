/**
 * The notifications inbox read model (../domain/notification.ts), written by the event
 * projection and by the student marking notifications read. Projecting is insert-only (one
 * `insertMany` per batch; an id already stored is a duplicate-key error and is skipped), so
 * redeliveries and replicas store each notification once. Marking read only sets `readAt` where
 * it is null, so it is safe to repeat and needs no claim.
 */
import { Schema, type Connection, type Model } from 'mongoose';
import { collectionOf, insertNew } from '@courses/platform';
import type { Notification } from '../domain/notification.js';

interface NotificationDoc extends Omit<Notification, 'id'> {
  _id: string;
}

const schema = new Schema<NotificationDoc>(
  {
    _id: { type: String, required: true },
    studentId: { type: String, required: true },
    kind: { type: String, required: true },
    registrationId: { type: String, required: true },
    lectureId: { type: String, required: true },
    lectureTitle: { type: String, default: null },
    reason: { type: String, default: null },
    amount: { type: Number, default: null },
    fromWaitlist: { type: Boolean, default: false },
    position: { type: Number, default: null },
    message: { type: String, required: true },
    createdAt: { type: Date, required: true },
    readAt: { type: Date, default: null },
  },
  { versionKey: false, collection: 'notifications' },
);
// A student's inbox, newest first (MongoDB uses it; FerretDB v1 scans).
schema.index({ studentId: 1, createdAt: -1, _id: -1 });

function toNotification(d: NotificationDoc): Notification {
  const { _id, ...rest } = d;
  return {
    id: _id,
    ...rest,
    lectureTitle: rest.lectureTitle ?? null,
    reason: rest.reason ?? null,
    amount: rest.amount ?? null,
    fromWaitlist: rest.fromWaitlist ?? false,
    position: rest.position ?? null,
  };
}

/** Where a page of an inbox starts after: the last notification of the page before. */
export interface InboxPosition {
  createdAt: Date;
  id: string;
}

/** A page of an inbox, newest first. */
export interface InboxPage {
  items: Notification[];
  hasNextPage: boolean;
  totalCount: number;
}

export class NotificationRepository {
  readonly model: Model<NotificationDoc>;

  constructor(conn: Connection) {
    this.model = conn.model<NotificationDoc>('Notification', schema);
  }

  /** Stores notifications not stored yet (one command); repeats are skipped. */
  async record(notifications: readonly Notification[]): Promise<void> {
    await insertNew(
      this.model.collection,
      notifications.map(({ id, ...rest }) => ({ _id: id, ...rest })),
    );
  }

  /** The notifications among `ids` that belong to `studentId` (one query), in no particular order. */
  async findByIds(studentId: string, ids: readonly string[]): Promise<Notification[]> {
    const docs = await this.model.find({ _id: { $in: ids }, studentId }).lean<NotificationDoc[]>();
    return docs.map(toNotification);
  }

  /** `first` notifications of `studentId` after `after` (exclusive), newest first; only unread ones with `unreadOnly`. */
  async page(studentId: string, first: number, after: InboxPosition | undefined, unreadOnly: boolean): Promise<InboxPage> {
    const filter: Record<string, unknown> = unreadOnly ? { studentId, readAt: null } : { studentId };
    const pageFilter = after
      ? { ...filter, $or: [{ createdAt: { $lt: after.createdAt } }, { createdAt: after.createdAt, _id: { $lt: after.id } }] }
      : filter;
    const [docs, totalCount] = await Promise.all([
      this.model
        .find(pageFilter)
        .sort({ createdAt: -1, _id: -1 })
        .limit(first + 1)
        .lean<NotificationDoc[]>(),
      this.model.countDocuments(filter),
    ]);
    return { items: docs.slice(0, first).map(toNotification), hasNextPage: docs.length > first, totalCount };
  }

  /** How many notifications of `studentId` are unread. */
  unreadCount(studentId: string): Promise<number> {
    return this.model.countDocuments({ studentId, readAt: null }).exec();
  }

  /**
   * Marks read those of `ids` that belong to `studentId` and are unread, at `now`.
   * @returns how many it marked.
   */
  async markRead(studentId: string, ids: readonly string[], now = new Date()): Promise<number> {
    if (!ids.length) return 0;
    const res = await collectionOf(this.model).updateMany(
      { _id: { $in: [...ids] }, studentId, readAt: null },
      {
        $set: { readAt: now },
      },
    );
    return res.modifiedCount;
  }
}
