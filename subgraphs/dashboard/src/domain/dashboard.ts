/**
 * The dashboard read model's projection rules. Events from two streams arrive in any relative
 * order and possibly more than once, so the read model stores facts, not states: each event
 * becomes the fact "registration R reached status S at time T", stored once under the id
 * `R:S` (a repeat is the same fact). A line of the dashboard is the fold of its registration's
 * facts: for each kind, the status of highest rank wins, so statuses only move forward and the
 * result does not depend on arrival order or duplicates.
 */
import type { EventEnvelope } from '@courses/contracts';

export type RegistrationStatus = 'WAITLISTED' | 'CONFIRMED' | 'CANCELED';
export type PaymentStatus = 'COMPLETED' | 'REFUNDED';

/** Forward-only ranks of statuses. */
export const RANK = {
  registration: { WAITLISTED: 1, CONFIRMED: 2, CANCELED: 3 } satisfies Record<RegistrationStatus, number>,
  payment: { COMPLETED: 1, REFUNDED: 2 } satisfies Record<PaymentStatus, number>,
} as const;

/** A dashboard line as clients see it. */
export interface DashboardEntry {
  registrationId: string;
  lectureId: string;
  lectureTitle: string;
  registrationStatus: RegistrationStatus;
  paymentStatus: PaymentStatus | null;
  updatedAt: Date;
}

/** One projected event: registration `registrationId` reached `status` at `at`. */
export type Fact = {
  registrationId: string;
  studentId: string;
  lectureId: string;
  /** The lecture's title, when the event carries it. */
  lectureTitle?: string;
  /** When the change happened (the event's occurredAt). */
  at: Date;
} & ({ kind: 'registration'; status: RegistrationStatus } | { kind: 'payment'; status: PaymentStatus });

/** The id a fact is stored under: one per registration and status, so a repeated event is the same fact. */
export function factId(f: Pick<Fact, 'registrationId' | 'status'>): string {
  return `${f.registrationId}:${f.status}`;
}

/** True when a status of rank `incoming` should replace one of rank `stored` (absent = 0). */
export function advances(stored: number | undefined, incoming: number): boolean {
  return incoming > (stored ?? 0);
}

/**
 * Folds facts into dashboard lines, most recently changed first (then by registration id,
 * newest first). A registration with payment facts only (its confirmation not yet projected)
 * has no line yet.
 */
export function fold(facts: readonly Fact[]): DashboardEntry[] {
  const lines = new Map<string, { lectureId: string; lectureTitle: string; reg?: Fact; pay?: Fact }>();
  for (const f of facts) {
    const line = lines.get(f.registrationId) ?? { lectureId: f.lectureId, lectureTitle: '' };
    if (f.lectureTitle) line.lectureTitle = f.lectureTitle;
    if (f.kind === 'registration') {
      if (advances(line.reg ? RANK.registration[line.reg.status as RegistrationStatus] : undefined, RANK.registration[f.status]))
        line.reg = f;
    } else if (advances(line.pay ? RANK.payment[line.pay.status as PaymentStatus] : undefined, RANK.payment[f.status])) line.pay = f;
    lines.set(f.registrationId, line);
  }
  const out: DashboardEntry[] = [];
  for (const [registrationId, l] of lines) {
    if (!l.reg) continue;
    const updatedAt = l.pay && l.pay.at > l.reg.at ? l.pay.at : l.reg.at;
    out.push({
      registrationId,
      lectureId: l.lectureId,
      lectureTitle: l.lectureTitle,
      registrationStatus: l.reg.status as RegistrationStatus,
      paymentStatus: (l.pay?.status as PaymentStatus | undefined) ?? null,
      updatedAt,
    });
  }
  return out.sort((a, b) => b.updatedAt.getTime() - a.updatedAt.getTime() || (a.registrationId < b.registrationId ? 1 : -1));
}

/** Where a page of the dashboard continues: after the line of `registrationId` as it stood at `updatedAt`. */
export interface DashboardPosition {
  updatedAt: Date;
  registrationId: string;
}

/**
 * One page of folded lines (in {@link fold}'s order): at most `first` (count) after `after`
 * (exclusive), keyed by the line's order itself, not its index, so a line that changed between two
 * pages moves to the top instead of shifting the next page. Also how many lines there are in all
 * and whether more follow.
 */
export function pageOf(
  lines: readonly DashboardEntry[],
  first: number,
  after?: DashboardPosition,
): { items: DashboardEntry[]; totalCount: number; hasNextPage: boolean } {
  const t = after?.updatedAt.getTime();
  const start =
    after === undefined
      ? 0
      : lines.findIndex((l) => l.updatedAt.getTime() < t! || (l.updatedAt.getTime() === t && l.registrationId < after.registrationId));
  const rest = start === -1 ? [] : lines.slice(start);
  return { items: rest.slice(0, first), totalCount: lines.length, hasNextPage: rest.length > first };
}

/** The facts an event establishes (a confirmation also means the payment completed). */
export function factsOf(e: EventEnvelope): Fact[] {
  const at = new Date(e.occurredAt);
  const p = e.payload as { registrationId: string; studentId: string; lectureId: string; lectureTitle?: string };
  const k = { registrationId: p.registrationId, studentId: p.studentId, lectureId: p.lectureId, at };
  switch (e.type) {
    case 'registration.confirmed':
      return [
        { ...k, kind: 'registration', status: 'CONFIRMED', lectureTitle: p.lectureTitle },
        { ...k, kind: 'payment', status: 'COMPLETED' },
      ];
    case 'registration.waitlisted':
      return [{ ...k, kind: 'registration', status: 'WAITLISTED', lectureTitle: p.lectureTitle }];
    case 'registration.canceled':
      return [{ ...k, kind: 'registration', status: 'CANCELED' }];
    case 'payment.completed':
      return [{ ...k, kind: 'payment', status: 'COMPLETED' }];
    case 'payment.refunded':
      return [{ ...k, kind: 'payment', status: 'REFUNDED' }];
    default:
      return [];
  }
}
