/** Inbound adapter: GraphQL resolvers of the dashboard subgraph (reads its own read models only). */
import {
  appError,
  badInput,
  DateTimeScalar,
  ErrorCode,
  idCursor,
  pageSize,
  requireId,
  requireIdentity,
  type RequestContext,
} from '@courses/platform';
import type { Notification } from '../domain/notification.js';
import type { Resolvers } from '../generated/graphql.js';
import type { DashboardRepository } from '../infrastructure/dashboard-repository.js';
import type { NotificationRepository } from '../infrastructure/notification-repository.js';

/** Opaque cursor of a notification id in `myNotifications`, and back. */
const cursor = idCursor('notification', 'myNotifications');
/** Most ids one markNotificationsRead takes. */
const MARK_MAX = 100;

export function dashboardResolvers(repo: DashboardRepository, inbox: NotificationRepository): Resolvers {
  return {
    DateTime: DateTimeScalar,
    Query: {
      myDashboard: (_: unknown, __: unknown, ctx: RequestContext) => repo.forStudent(requireIdentity(ctx).sub),
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
        const page = await inbox.page(who.sub, first, after, !!args.unreadOnly);
        const edges = page.items.map((node) => ({ cursor: cursor.encode(node.id), node }));
        return { edges, totalCount: page.totalCount, pageInfo: { hasNextPage: page.hasNextPage, endCursor: edges.at(-1)?.cursor ?? null } };
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
