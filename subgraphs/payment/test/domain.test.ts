import { describe, expect, it } from 'vitest';
import {
  complete,
  drawLatency,
  mayView,
  parseLatency,
  paymentIdOf,
  providerDecision,
  refund,
  refundLateCharge,
  voided,
} from '../src/domain/payment.js';

const charge = { registrationId: 'r', studentId: 's', lectureId: 'l', amount: 30_000 };
const at = new Date('2026-11-22T00:00:00Z');
const later = new Date('2026-11-22T01:00:00Z');

describe('simulated payment provider', () => {
  it('parses a latency or a latency range in ms', () => {
    expect(parseLatency('500')).toEqual({ minMs: 500, maxMs: 500 });
    expect(parseLatency('400-620')).toEqual({ minMs: 400, maxMs: 620 });
    expect(() => parseLatency('620-400')).toThrow();
    expect(() => parseLatency('fast')).toThrow();
  });

  it('draws latencies uniformly inside the range, ends included', () => {
    const r = parseLatency('400-620');
    expect(drawLatency(r, 0)).toBe(400);
    expect(drawLatency(r, 0.999999)).toBe(620);
    expect(drawLatency(parseLatency('0'), 0.7)).toBe(0);
  });

  it('declines listed students and approves the rest', () => {
    const declined = new Set(['s-broke']);
    expect(providerDecision('s-broke', declined)).toBe('declined');
    expect(providerDecision('s-1', declined)).toBe('approved');
  });

  it('shows a payment to its student and admins, never a voided one', () => {
    expect(mayView({ studentId: 's', status: 'COMPLETED' }, { sub: 's', role: 'STUDENT' })).toBe(true);
    expect(mayView({ studentId: 's', status: 'REFUNDED' }, { sub: 'x', role: 'ADMIN' })).toBe(true);
    expect(mayView({ studentId: 's', status: 'COMPLETED' }, { sub: 't', role: 'STUDENT' })).toBe(false);
    expect(mayView({ studentId: 's', status: 'VOIDED' }, { sub: 's', role: 'STUDENT' })).toBe(false);
  });
});

describe('Payment aggregate', () => {
  it('derives one payment id per registration: 24 hex digits, stable', () => {
    expect(paymentIdOf('r')).toMatch(/^[0-9a-f]{24}$/);
    expect(paymentIdOf('r')).toBe(paymentIdOf('r'));
    expect(paymentIdOf('r')).not.toBe(paymentIdOf('r2'));
  });

  it('records an approved charge as COMPLETED with payment.completed', () => {
    const { created, event } = complete('p', charge, at);
    expect(created).toEqual({ id: 'p', ...charge, status: 'COMPLETED', createdAt: at, updatedAt: at });
    expect(event.type).toBe('payment.completed');
    expect(event.payload).toEqual({ paymentId: 'p', ...charge });
  });

  it('refunds a completed payment once: COMPLETED → REFUNDED with payment.refunded', () => {
    const t = refund(complete('p', charge, at).created, later)!;
    expect(t).toMatchObject({
      from: 'COMPLETED',
      set: { status: 'REFUNDED', updatedAt: later },
      next: { status: 'REFUNDED', amount: 30_000 },
    });
    expect(t.event.type).toBe('payment.refunded');
    expect(t.event.payload).toEqual({ paymentId: 'p', ...charge });
    expect(refund(t.next)).toBeNull();
    expect(refund(voided('p', charge))).toBeNull();
  });

  it('refunds a charge that arrives after its registration was given up (VOIDED → REFUNDED), with the amount charged', () => {
    const tombstone = voided('p', charge, at);
    expect(tombstone).toMatchObject({ status: 'VOIDED', amount: 0 });
    expect(mayView(tombstone, { sub: 's', role: 'STUDENT' })).toBe(false);
    const t = refundLateCharge(tombstone, 30_000, later)!;
    expect(t).toMatchObject({ from: 'VOIDED', set: { status: 'REFUNDED', amount: 30_000, updatedAt: later } });
    expect(t.event.payload).toEqual({ paymentId: 'p', ...charge });
    expect(refundLateCharge(complete('p', charge).created, 30_000)).toBeNull();
  });
});
