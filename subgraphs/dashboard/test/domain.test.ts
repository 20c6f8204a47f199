import { describe, expect, it } from 'vitest';
import { advances, fold, RANK } from '../src/domain/dashboard.js';

describe('dashboard projection rules', () => {
  it('moves statuses forward only', () => {
    expect(advances(undefined, RANK.registration.CONFIRMED)).toBe(true);
    expect(advances(RANK.registration.CONFIRMED, RANK.registration.CANCELED)).toBe(true);
    expect(advances(RANK.registration.CANCELED, RANK.registration.CONFIRMED)).toBe(false);
    expect(advances(RANK.payment.REFUNDED, RANK.payment.REFUNDED)).toBe(false);
  });
});

describe('dashboard lines', () => {
  const k = { registrationId: 'r1', studentId: 's', lectureId: 'l' };
  const t = (s: number) => new Date(1_700_000_000_000 + s * 1000);
  it('fold the facts of each registration the same whatever their order', () => {
    const facts = [
      { ...k, kind: 'payment' as const, status: 'REFUNDED' as const, at: t(3) },
      { ...k, kind: 'registration' as const, status: 'CANCELED' as const, at: t(2) },
      { ...k, kind: 'registration' as const, status: 'CONFIRMED' as const, lectureTitle: 'Graphs', at: t(1) },
      { ...k, kind: 'payment' as const, status: 'COMPLETED' as const, at: t(1) },
    ];
    const expected = [
      {
        registrationId: 'r1',
        lectureId: 'l',
        lectureTitle: 'Graphs',
        registrationStatus: 'CANCELED',
        paymentStatus: 'REFUNDED',
        updatedAt: t(3),
      },
    ];
    expect(fold(facts)).toEqual(expected);
    expect(fold([...facts].reverse())).toEqual(expected);
    expect(fold([...facts, ...facts])).toEqual(expected);
  });

  it('show a registration only once its confirmation is projected, newest change first', () => {
    expect(fold([{ ...k, kind: 'payment', status: 'COMPLETED', at: t(1) }])).toEqual([]);
    const two = fold([
      { ...k, kind: 'registration', status: 'CONFIRMED', at: t(1) },
      { ...k, registrationId: 'r2', kind: 'registration', status: 'CONFIRMED', at: t(5) },
    ]);
    expect(two.map((e) => [e.registrationId, e.paymentStatus])).toEqual([
      ['r2', null],
      ['r1', null],
    ]);
  });
});
