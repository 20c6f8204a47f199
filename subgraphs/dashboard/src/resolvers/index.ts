/** Inbound adapter: GraphQL resolvers of the dashboard subgraph (reads its own read model only). */
import { DateTimeScalar, requireIdentity, type RequestContext } from '@courses/platform';
import type { Resolvers } from '../generated/graphql.js';
import type { DashboardRepository } from '../infrastructure/dashboard-repository.js';

export function dashboardResolvers(repo: DashboardRepository): Resolvers {
  return {
    DateTime: DateTimeScalar,
    Query: {
      myDashboard: (_: unknown, __: unknown, ctx: RequestContext) => repo.forStudent(requireIdentity(ctx).sub),
    },
  };
}
