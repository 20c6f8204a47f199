/** Inbound adapter: GraphQL resolvers of the payment subgraph. */
import { loaderOf, type RequestContext } from '@courses/platform';
import type { PaymentService } from '../application/payment-service.js';
import { mayView, type Payment } from '../domain/payment.js';
import type { Resolvers } from '../generated/graphql.js';

/** Builds the resolver map over the use cases. */
export function paymentResolvers(payments: PaymentService): Resolvers {
  return {
    Payment: {
      /** Null for callers other than the paying student or an admin; the request's lookups share one query. */
      __resolveReference: async (ref: { id: string }, ctx: RequestContext): Promise<Payment | null> => {
        const p = await loaderOf(ctx, 'payment', (ids) => payments.findByIds(ids)).load(ref.id);
        return p && mayView(p, ctx.identity) ? p : null;
      },
    },
  };
}
