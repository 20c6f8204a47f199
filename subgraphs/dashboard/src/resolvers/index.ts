/** Inbound adapter: GraphQL resolvers of the dashboard subgraph (reads its own read models only). */
import {
  appError,
  badInput,
  connectionOf,
  DateTimeScalar,
  ErrorCode,
  idCursor,
  PAGE,
  pageSize,
  requireId,
  requireIdentity,
  type RequestContext,
} from '@courses/platform';
import { pageOf, type DashboardEntry, type DashboardPosition } from '../domain/dashboard.js';
import type { Notification } from '../domain/notification.js';
import type { Resolvers } from '../generated/graphql.js';
import type { DashboardRepository } from '../infrastructure/dashboard-repository.js';
import type { NotificationRepository } from '../infrastructure/notification-repository.js';

/** Opaque cursor of a notification id in `myNotifications`, and back. */
const cursor = idCursor('notification', 'myNotifications');
/**
 * Opaque cursor of a dashboard line in `myDashboardPage` (base64url of
 * `dashboard:<updatedAt ms>:<registration id>`), and back.
 */
const lineCursor = {
  encode: (l: DashboardEntry) => Buffer.from(`dashboard:${l.updatedAt.getTime()}:${l.registrationId}`).toString('base64url'),
  /** @throws GraphQLError BAD_USER_INPUT (field `after`) for a cursor myDashboardPage did not issue */
  decode(c: string): DashboardPosition {
    const m = /^dashboard:(\d{1,15}):([^:]{1,64})$/.exec(Buffer.from(c, 'base64url').toString('utf8'));
    if (!m) throw badInput('after', 'after is not a cursor returned by myDashboardPage');
    return { updatedAt: new Date(Number(m[1])), registrationId: m[2]! };
  },
};
/** Most ids one markNotificationsRead takes. */
const MARK_MAX = 100;

export function dashboardResolvers(repo: DashboardRepository, inbox: NotificationRepository): Resolvers {
  return {
    DateTime: DateTimeScalar,
    Query: {
      // Deprecated: the most recently changed PAGE.max lines only.
      myDashboard: async (_: unknown, __: unknown, ctx: RequestContext) =>
        (await repo.forStudent(requireIdentity(ctx).sub)).slice(0, PAGE.max),
      myDashboardPage: async (_: unknown, args: { first?: number | null; after?: string | null }, ctx: RequestContext) => {
        const studentId = requireIdentity(ctx).sub;
        const first = pageSize(args.first);
        const after = args.after ? lineCursor.decode(args.after) : undefined;
        return connectionOf(pageOf(await repo.forStudent(studentId), first, after), lineCursor.encode);
      },
      myNotifications: async (
        _: unknown,
        args: { first?: number | null; after?: string | null; unreadOnly?: boolean | null },
        ctx: RequestContext,
      ) => {
        const who = requireIdentity(ctx);
        const first = pageSize(args.first);
        let after: Notification | undefined;
        if (args.after) {
          [after] = await inbox.findByIds(who.sub, [cursor.decode(args.after)]);
          if (!after) throw badInput('after', 'after is not a cursor of your notifications');
        }
        return connectionOf(await inbox.page(who.sub, first, after, !!args.unreadOnly), (n) => cursor.encode(n.id));
      },
      unreadNotificationCount: (_: unknown, __: unknown, ctx: RequestContext) => inbox.unreadCount(requireIdentity(ctx).sub),
      notification: async (_: unknown, args: { id: string }, ctx: RequestContext) => {
        const [found] = await inbox.findByIds(requireIdentity(ctx).sub, [requireId(args.id)]);
        return found ?? null;
      },
    },
    Subscription: {
      notificationReceived: {
        subscribe: () => {
          throw appError(ErrorCode.BAD_USER_INPUT, 'subscriptions are served by the gateway over graphql-ws');
        },
      },
    },
    Mutation: {
      markNotificationsRead: (_: unknown, args: { ids: string[] }, ctx: RequestContext) => {
        const who = requireIdentity(ctx);
        if (args.ids.length > MARK_MAX) throw badInput('ids', `at most ${MARK_MAX} ids at once`);
        return inbox.markRead(
          who.sub,
          args.ids.map((id) => requireId(id, 'ids')),
        );
      },
    },
    Notification: {
      lecture: (n: Notification) => ({ __typename: 'Lecture' as const, id: n.lectureId }),
      read: (n: Notification) => n.readAt !== null,
    },
  };
}
