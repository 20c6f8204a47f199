/**
 * Inbound adapter: GraphQL resolvers of the lecture subgraph. Thin: validate arguments,
 * check who may act, call the repository.
 */
import { appError, badInput, ErrorCode, loaderOf, requireId, requireRole, type RequestContext } from '@courses/platform';
import { assertMayManage, cancel, validateNewLecture, type Lecture, type LectureStatus } from '../domain/lecture.js';
import type { LectureRepository } from '../infrastructure/lecture-repository.js';
import type { Resolvers } from '../generated/graphql.js';

/** Default and largest page size of `lectures`. */
export const PAGE = { default: 20, max: 100 } as const;

/** Opaque cursor of a lecture id (base64url), and back. */
export const cursor = {
  encode: (id: string) => Buffer.from(`lecture:${id}`).toString('base64url'),
  /** @throws GraphQLError BAD_USER_INPUT for a cursor this API did not issue. */
  decode: (c: string) => {
    const raw = Buffer.from(c, 'base64url').toString('utf8');
    const id = raw.startsWith('lecture:') ? raw.slice(8) : '';
    if (!/^[0-9a-f]{24}$/.test(id)) throw badInput('after', 'after is not a cursor returned by lectures');
    return id;
  },
};

/** Builds the resolver map over a repository. */
export function lectureResolvers(repo: LectureRepository): Resolvers {
  return {
    Query: {
      lecture: (_: unknown, args: { id: string }) => repo.findById(requireId(args.id)),
      lectures: async (_: unknown, args: { first?: number | null; after?: string | null; status?: LectureStatus | null }) => {
        const first = args.first ?? PAGE.default;
        if (!Number.isInteger(first) || first < 1 || first > PAGE.max) throw badInput('first', `first must be from 1 to ${PAGE.max}`);
        const afterId = args.after ? cursor.decode(args.after) : undefined;
        const page = await repo.page(first, afterId, args.status ?? undefined);
        const edges = page.items.map((node) => ({ cursor: cursor.encode(node.id), node }));
        return {
          edges,
          totalCount: page.totalCount,
          pageInfo: { hasNextPage: page.hasNextPage, endCursor: edges.at(-1)?.cursor ?? null },
        };
      },
    },
    Mutation: {
      openLecture: (_: unknown, args: { input: { title: string; capacity: number; price: number } }, ctx: RequestContext) => {
        const who = requireRole(ctx, 'INSTRUCTOR', 'ADMIN');
        return repo.open(validateNewLecture(args.input), who.sub);
      },
      cancelLecture: async (_: unknown, args: { id: string }, ctx: RequestContext) => {
        const who = requireRole(ctx, 'INSTRUCTOR', 'ADMIN');
        const lecture = await repo.findById(requireId(args.id));
        if (!lecture) throw appError(ErrorCode.NOT_FOUND, `no lecture ${args.id}`);
        assertMayManage(lecture, who);
        if (!cancel(lecture).changed) return lecture;
        return (await repo.cancel(lecture)) ?? lecture;
      },
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
      __resolveReference: (ref: { id: string }, ctx: RequestContext): Promise<Lecture | null> => loaderOf(ctx, 'lecture', (ids) => repo.findByIds(ids)).load(ref.id),
    },
  };
}
