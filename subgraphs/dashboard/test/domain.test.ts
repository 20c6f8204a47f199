import { describe, expect, it } from 'vitest';
import { advances, fold, pageOf, RANK, type DashboardEntry } from '../src/domain/dashboard.js';

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

describe('dashboard pages', () => {
  const line = (registrationId: string, s: number): DashboardEntry => ({
    registrationId,
    lectureId: 'l',
    lectureTitle: 'T',
    registrationStatus: 'CONFIRMED',
    paymentStatus: null,
    updatedAt: new Date(1_700_000_000_000 + s * 1000),
  });
  // fold's order: most recently changed first, then by registration id, newest first.
  const lines = [line('r4', 9), line('r3', 5), line('r2', 5), line('r1', 1)];
  const ids = (p: { items: DashboardEntry[] }) => p.items.map((l) => l.registrationId);

  it('cut the lines after a position, equal times ordered by registration id', () => {
    const first = pageOf(lines, 2);
    expect([ids(first), first.totalCount, first.hasNextPage]).toEqual([['r4', 'r3'], 4, true]);
    const after = pageOf(lines, 2, { updatedAt: lines[1]!.updatedAt, registrationId: 'r3' });
    expect([ids(after), after.hasNextPage]).toEqual([['r2', 'r1'], false]);
    expect(ids(pageOf(lines, 2, { updatedAt: lines[3]!.updatedAt, registrationId: 'r1' }))).toEqual([]);
  });

  it('continue where the last page ended when a line shown changed since (it moved to the top)', () => {
    const changed = [line('r3', 12), line('r4', 9), line('r2', 5), line('r1', 1)];
    // The first page ended at r3 as it stood at 5 s: r2 and r1 follow, r3 is not repeated.
    expect(ids(pageOf(changed, 10, { updatedAt: lines[1]!.updatedAt, registrationId: 'r3' }))).toEqual(['r2', 'r1']);
  });
});
