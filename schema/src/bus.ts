/**
 * Who says and who hears what on the event bus, in one table.
 *
 * Each service publishes only its own context's events and reads others' only through the
 * durable consumers declared here; the gateway only listens, to push live updates (and to replay
 * them to a client that resumes). The NATS
 * user permissions are derived from this table (`natsPermissions` in `@courses/platform`),
 * and a subgraph refuses at start a durable consumer that is not declared here, so the code
 * and the permissions cannot drift apart.
 */
import type { Context } from './events.js';

/** What one service may do on the bus. */
export interface BusRole {
  /** The context whose events this service publishes (into the stream it owns). */
  publishes?: Context;
  /** Durable consumer name → the context whose stream it reads. */
  consumes?: Readonly<Record<string, Context>>;
  /**
   * Contexts whose events it hears live and replays, without a durable consumer (ephemeral
   * ordered consumers on their streams; nothing acked).
   */
  listens?: readonly Context[];
}

/** Every service that connects to NATS, with its role on the bus. */
export const BUS = {
  registration: { publishes: 'registration', consumes: { 'registration-catalog': 'lecture' } },
  payment: { publishes: 'payment', consumes: { 'payment-refunds': 'registration' } },
  lecture: { publishes: 'lecture', consumes: { 'lecture-enrolment': 'registration' } },
  dashboard: {
    publishes: 'dashboard',
    consumes: {
      'dashboard-registrations': 'registration',
      'dashboard-payments': 'payment',
      'dashboard-notifications': 'registration',
      'dashboard-notifications-payments': 'payment',
    },
  },
  gateway: { listens: ['registration', 'payment', 'lecture', 'dashboard'] },
} as const satisfies Record<string, BusRole>;

/** A service that connects to NATS (also its NATS user name). */
export type BusService = keyof typeof BUS;

/** The services of {@link BUS}, in a stable order. */
export const BUS_SERVICES = Object.keys(BUS) as BusService[];

/** The role of `service` on the bus. @throws when `service` is not in {@link BUS}. */
export function busRole(service: string): BusRole {
  const role = (BUS as Record<string, BusRole>)[service];
  if (!role) throw new Error(`${service} has no role on the event bus (see BUS in @courses/contracts)`);
  return role;
}
