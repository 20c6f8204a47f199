/**
 * The dashboard read model's projection rules. Events from two streams arrive in any
 * relative order and possibly more than once, so each status only moves forward: every
 * status has a rank, and an event applies only when its rank is above the stored one.
 * That makes the projection idempotent and order-insensitive.
 */
export type RegistrationStatus = 'CONFIRMED' | 'CANCELED';
export type PaymentStatus = 'COMPLETED' | 'REFUNDED';

/** Forward-only ranks of statuses. */
export const RANK = {
  registration: { CONFIRMED: 1, CANCELED: 2 } satisfies Record<RegistrationStatus, number>,
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

/** True when a status of rank `incoming` should replace one of rank `stored` (absent = 0). */
export function advances(stored: number | undefined, incoming: number): boolean {
  return incoming > (stored ?? 0);
}
