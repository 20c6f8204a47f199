import { describe, expect, it } from 'vitest';
import { advances, RANK } from '../src/domain/dashboard.js';

describe('dashboard projection rules', () => {
  it('moves statuses forward only', () => {
    expect(advances(undefined, RANK.registration.CONFIRMED)).toBe(true);
    expect(advances(RANK.registration.CONFIRMED, RANK.registration.CANCELED)).toBe(true);
    expect(advances(RANK.registration.CANCELED, RANK.registration.CONFIRMED)).toBe(false);
    expect(advances(RANK.payment.REFUNDED, RANK.payment.REFUNDED)).toBe(false);
  });
});
