import { describe, expect, it } from 'vitest';
import { drawLatency, mayView, parseLatency, providerDecision } from '../src/domain/payment.js';

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
