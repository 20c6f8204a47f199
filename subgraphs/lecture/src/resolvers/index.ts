/**
 * Inbound adapter: GraphQL resolvers of the lecture subgraph. Thin: check the arguments'
 * shape and who is asking, then call the use case (writes) or the repository (reads).
 */
import {
  appError,
  connectionOf,
  ErrorCode,
  idCursor,
  loaderOf,
  pageSize,
  requireId,
  requireRole,
  type RequestContext,
} from '@courses/platform';
import type { LectureService } from '../application/lecture-service.js';
import type { Lecture, LectureStatus } from '../domain/lecture.js';
import type { Resolvers } from '../generated/graphql.js';
import type { LectureRepository } from '../infrastructure/lecture-repository.js';

/** Most lectures `managedLectures` lists. */
const MANAGED_MAX = 200;
/** Opaque cursor of a lecture id in `lectures`, and back. */
const cursor = idCursor('lecture', 'lectures');

/** Builds the resolver map over the use cases and the repository. */
export function lectureResolvers(service: LectureService, repo: LectureRepository): Resolvers {
  return {
    Query: {
      lecture: (_: unknown, args: { id: string }) => repo.findById(requireId(args.id)),
      lectures: async (_: unknown, args: { first?: number | null; after?: string | null; status?: LectureStatus | null }) => {
        const first = pageSize(args.first);
        const afterId = args.after ? cursor.decode(args.after) : undefined;
        return connectionOf(await repo.page(first, afterId, args.status ?? undefined), (l) => cursor.encode(l.id));
      },
      managedLectures: (_: unknown, __: unknown, ctx: RequestContext) => {
        const who = requireRole(ctx, 'INSTRUCTOR', 'ADMIN');
        return repo.managedBy(who.role === 'ADMIN' ? undefined : who.sub, MANAGED_MAX);
      },
    },
    Mutation: {
      openLecture: (_: unknown, args: { input: { title: string; capacity: number; price: number } }, ctx: RequestContext) =>
        service.open(requireRole(ctx, 'INSTRUCTOR', 'ADMIN'), args.input),
      cancelLecture: (_: unknown, args: { id: string }, ctx: RequestContext) =>
        service.cancel(requireRole(ctx, 'INSTRUCTOR', 'ADMIN'), requireId(args.id)),
    },
    Subscription: {
      lectureUpdated: {
        subscribe: () => {
          throw appError(ErrorCode.BAD_USER_INPUT, 'subscriptions are served by the gateway over graphql-ws');
        },
      },
    },
    Lecture: {
      /** The request's lecture lookups share one query. */
      __resolveReference: (ref: { id: string }, ctx: RequestContext): Promise<Lecture | null> =>
        loaderOf(ctx, 'lecture', (ids) => repo.findByIds(ids)).load(ref.id),
    },
  };
}
