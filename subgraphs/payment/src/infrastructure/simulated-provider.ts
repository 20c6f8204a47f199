/**
 * The simulated card provider (outbound adapter): it answers each charge after a latency drawn
 * from `PAYMENT_LATENCY_MS` (400–620 ms reproduces the original system) and declines the
 * students listed in `PAYMENT_DECLINE_STUDENTS`. Like a real provider with idempotency keys,
 * the decision for a registration can be looked up again without charging twice
 * ({@link PaymentProvider.decisionOf}), which is what recovery after a crash relies on.
 */
import { drawLatency, providerDecision, type LatencyRange } from '../domain/payment.js';

/** A charge as the provider sees it (amount in KRW); `registrationId` is the idempotency key. */
export interface ProviderCharge {
  registrationId: string;
  studentId: string;
  amount: number;
}

/** The card provider port. */
export interface PaymentProvider {
  /** Charges the card; resolves with the decision once the provider answers. */
  charge(req: ProviderCharge): Promise<'approved' | 'declined'>;
  /** The decision of an earlier charge with the same idempotency key, at once (no second charge). */
  decisionOf(req: ProviderCharge): 'approved' | 'declined';
  /** Longest the provider takes to answer, ms. */
  readonly maxLatencyMs: number;
}

export class SimulatedProvider implements PaymentProvider {
  constructor(
    private readonly latency: LatencyRange,
    private readonly declinedStudents: ReadonlySet<string>,
  ) {}

  get maxLatencyMs(): number {
    return this.latency.maxMs;
  }

  async charge(req: ProviderCharge): Promise<'approved' | 'declined'> {
    const wait = drawLatency(this.latency);
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    return this.decisionOf(req);
  }

  decisionOf(req: ProviderCharge): 'approved' | 'declined' {
    return providerDecision(req.studentId, this.declinedStudents);
  }
}
