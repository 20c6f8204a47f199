/** Inbound adapter: GraphQL resolvers of the payment subgraph. */
import type { RequestContext } from '@courses/platform';
import { mayView, type Payment } from '../domain/payment.js';
import type { PaymentRepository } from '../infrastructure/payment-repository.js';
import type { Resolvers } from '../generated/graphql.js';

export function paymentResolvers(repo: PaymentRepository): Resolvers {
  return {
    Payment: {
      /** Null for callers other than the paying student or an admin. */
      __resolveReference: async (ref: { id: string }, ctx: RequestContext): Promise<Payment | null> => {
        const p = await repo.findById(ref.id);
        return p && mayView(p, ctx.identity) ? p : null;
      },
    },
  };
}
