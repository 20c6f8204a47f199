/** Event contracts: envelopes, validation at both ends, subjects and streams. */
import { describe, expect, it } from 'vitest';
import { contextOf, createEvent, EVENT_TYPES, InvalidEventError, parseEvent, streamOf, subjectOf, typeOfSubject } from '@courses/contracts';

const confirmed = {
  registrationId: 'r1',
  studentId: 's1',
  lectureId: 'l1',
  instructorId: 'i1',
  lectureTitle: 'T',
  paymentId: 'p1',
  amount: 1000,
};

describe('event envelope', () => {
  it('carries id, type, time, version and every *Id of the payload as correlation keys', () => {
    const e = createEvent('registration.confirmed', confirmed, new Date('2026-01-02T03:04:05Z'));
    expect(e.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(e).toMatchObject({ type: 'registration.confirmed', occurredAt: '2026-01-02T03:04:05.000Z', schemaVersion: 1 });
    expect(e.correlation).toEqual({ registrationId: 'r1', studentId: 's1', lectureId: 'l1', instructorId: 'i1', paymentId: 'p1' });
  });

  it('round-trips through the wire format', () => {
    const e = createEvent('payment.refunded', { paymentId: 'p', registrationId: 'r', studentId: 's', lectureId: 'l', amount: 5 });
    expect(parseEvent(new TextEncoder().encode(JSON.stringify(e)))).toEqual(e);
  });

  it('refuses to create an event whose payload breaks its schema', () => {
    expect(() => createEvent('registration.confirmed', { ...confirmed, amount: 1.5 })).toThrow(InvalidEventError);
    expect(() => createEvent('lecture.opened', { lectureId: 'l', title: '', instructorId: 'i', capacity: 1, price: 0 })).toThrow(
      InvalidEventError,
    );
  });

  it.each([
    ['not JSON', '{'],
    ['unknown type', JSON.stringify({ ...createEvent('registration.confirmed', confirmed), type: 'registration.exploded' })],
    ['bad payload', JSON.stringify({ ...createEvent('registration.confirmed', confirmed), payload: { registrationId: 'r' } })],
    ['wrong version', JSON.stringify({ ...createEvent('registration.confirmed', confirmed), schemaVersion: 99 })],
  ])('treats %s as poison', (_, raw) => {
    expect(() => parseEvent(raw)).toThrow(InvalidEventError);
  });
});

describe('subjects and streams', () => {
  it('names subjects <context>.<event>, optionally behind a namespace', () => {
    expect(subjectOf('registration.canceled')).toBe('registration.canceled');
    expect(subjectOf('registration.canceled', 't1')).toBe('t1.registration.canceled');
    expect(typeOfSubject('t1.lecture.opened', 't1')).toBe('lecture.opened');
    expect(typeOfSubject('t1.lecture.nope', 't1')).toBeUndefined();
  });

  it('has one stream per publishing context, capturing all its subjects', () => {
    expect(streamOf('payment')).toEqual({ name: 'PAYMENT', subjects: ['payment.>'] });
    expect(streamOf('payment', 'ab-1')).toEqual({ name: 'AB-1_PAYMENT', subjects: ['ab-1.payment.>'] });
    for (const t of EVENT_TYPES) expect(subjectOf(t).startsWith(`${contextOf(t)}.`)).toBe(true);
  });
});
