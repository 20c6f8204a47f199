/** Inbound adapter: GraphQL resolvers of the registration subgraph. */
import {
  appError,
  badInput,
  connectionOf,
  DateTimeScalar,
  ErrorCode,
  idCursor,
  isId,
  loaderOf,
  PAGE,
  pageSize,
  requireId,
  requireIdentity,
  requireRole,
  type RequestContext,
} from '@courses/platform';
import type { RegistrationService } from '../application/registration-service.js';
import { mayListLectureRegistrations, mayView, mayViewPayment, type Registration } from '../domain/registration.js';
import { positionOf } from '../domain/waitlist.js';
import type { Resolvers } from '../generated/graphql.js';
import type { CatalogRepository } from '../infrastructure/catalog-repository.js';
import type { RegistrationRepository } from '../infrastructure/registration-repository.js';
import type { WaitlistRepository } from '../infrastructure/waitlist-repository.js';

/** Opaque cursors of a registration id in `Lecture.registrations` and in `myRegistrationsPage`, and back. */
const cursor = idCursor('registration', 'Lecture.registrations');
const myCursor = idCursor('registration', 'myRegistrationsPage');

export function registrationResolvers(
  service: RegistrationService,
  registrations: RegistrationRepository,
  catalog: CatalogRepository,
  waitlists: WaitlistRepository,
): Resolvers {
  /** The registration when `ctx`'s caller may see it; the request's entity lookups share one query. */
  const visible = async (id: string, ctx: RequestContext) => {
    const reg = await loaderOf(ctx, 'registration', (ids) => registrations.findByIds(ids)).load(id);
    return reg && mayView(reg, ctx.identity) ? reg : null;
  };
  /** The catalog replica's copy of a lecture, or null (one lookup per lecture per request). */
  const catalogEntry = (id: string, ctx: RequestContext) =>
    loaderOf(ctx, 'catalog', (ids) => Promise.all(ids.map((i) => catalog.findById(i))).then((l) => l.filter((x) => x !== null))).load(id);
  /** The catalog replica's copy of a lecture. @throws NOT_FOUND when it has none. */
  const replicaOf = async (id: string, ctx: RequestContext) => {
    const entry = await catalogEntry(id, ctx);
    if (!entry) throw appError(ErrorCode.NOT_FOUND, 'this lecture is not in the catalog yet');
    return entry;
  };
  /** A lecture's waitlist as stored now (one lookup per lecture per request); null when it never had one. */
  const lineOf = async (lectureId: string, ctx: RequestContext) =>
    (await loaderOf(ctx, 'waitlist', (ids) => waitlists.findByIds(ids)).load(lectureId))?.waitlist ?? null;
  return {
    DateTime: DateTimeScalar,
    Query: {
      registration: (_: unknown, args: { id: string }, ctx: RequestContext) => visible(requireId(args.id), ctx),
      // Deprecated: the newest PAGE.max only.
      myRegistrations: (_: unknown, __: unknown, ctx: RequestContext) =>
        registrations.newestVisibleByStudent(requireIdentity(ctx).sub, PAGE.max),
      myRegistrationsPage: async (_: unknown, args: { first?: number | null; after?: string | null }, ctx: RequestContext) => {
        const studentId = requireIdentity(ctx).sub;
        const page = await registrations.pageVisible(
          { studentId },
          pageSize(args.first),
          args.after ? myCursor.decode(args.after) : undefined,
        );
        if (!page) throw badInput('after', 'after is not a cursor of your registrations');
        return connectionOf(page, (r) => myCursor.encode(r.id));
      },
    },
    Mutation: {
      registerForLecture: (_: unknown, args: { lectureId: string; waitlistIfFull?: boolean | null }, ctx: RequestContext) =>
        service.register(requireRole(ctx, 'STUDENT', 'ADMIN'), requireId(args.lectureId, 'lectureId'), args.waitlistIfFull === true),
      cancelRegistration: (_: unknown, args: { id: string }, ctx: RequestContext) =>
        service.cancel(requireIdentity(ctx), requireId(args.id)),
    },
    Subscription: {
      registrationStatusChanged: {
        subscribe: () => {
          throw appError(ErrorCode.BAD_USER_INPUT, 'subscriptions are served by the gateway over graphql-ws');
        },
      },
    },
    Registration: {
      __resolveReference: (ref: { id: string }, ctx: RequestContext) => visible(ref.id, ctx),
      lecture: (reg: Registration) => ({ __typename: 'Lecture', id: reg.lectureId }),
      waitlistPosition: async (reg: Registration, _: unknown, ctx: RequestContext) =>
        reg.status === 'WAITLISTED' ? positionOf(await lineOf(reg.lectureId, ctx), reg.id) : null,
      payment: (reg: Registration, _: unknown, ctx: RequestContext) =>
        reg.paymentId && mayViewPayment(reg, ctx.identity) ? { __typename: 'Payment', id: reg.paymentId } : null,
    },
    Lecture: {
      // A representation's id is whatever the caller of `_entities` sent: only an id is a lecture.
      __resolveReference: (ref: { id: unknown }) => (isId(ref.id) ? { id: ref.id } : null),
      // From the catalog replica (see schema.graphql): answers while the lecture subgraph is down.
      title: async (l: { id: string }, _: unknown, ctx: RequestContext) => (await replicaOf(l.id, ctx)).title,
      instructorId: async (l: { id: string }, _: unknown, ctx: RequestContext) => (await replicaOf(l.id, ctx)).instructorId,
      capacity: async (l: { id: string }, _: unknown, ctx: RequestContext) => (await replicaOf(l.id, ctx)).capacity,
      price: async (l: { id: string }, _: unknown, ctx: RequestContext) => (await replicaOf(l.id, ctx)).price,
      status: async (l: { id: string }, _: unknown, ctx: RequestContext) => (await replicaOf(l.id, ctx)).status,
      waitlistLength: async (l: { id: string }, _: unknown, ctx: RequestContext) => (await lineOf(l.id, ctx))?.entries.length ?? 0,
      registrations: async (lecture: { id: string }, args: { first?: number | null; after?: string | null }, ctx: RequestContext) => {
        const first = pageSize(args.first);
        const afterId = args.after ? cursor.decode(args.after) : undefined;
        const entry = await catalogEntry(lecture.id, ctx);
        if (!entry || !mayListLectureRegistrations(entry, ctx.identity)) return null;
        // One page, newest first, cut in the database (canceled registrations grow without
        // bound: the lecture's registrations are never all loaded).
        const page = await registrations.pageVisible({ lectureId: lecture.id }, first, afterId);
        if (!page) throw badInput('after', "after is not a cursor of this lecture's registrations");
        return connectionOf(page, (r) => cursor.encode(r.id));
      },
    },
  };
}
