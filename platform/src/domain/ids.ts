/** Aggregate identifiers: 24-hex-digit MongoDB ObjectIds, carried as strings everywhere. */
import { Types } from 'mongoose';
import { invalidInput } from './domain-error.js';

const OBJECT_ID = /^[0-9a-f]{24}$/;

/** A new unique id (ObjectId hex: 12 bytes, time-ordered). */
export function newId(): string {
  return new Types.ObjectId().toHexString();
}

/** True when `id` is a well-formed aggregate id. */
export function isId(id: unknown): id is string {
  return typeof id === 'string' && OBJECT_ID.test(id);
}

/**
 * Returns `id` when well formed.
 * @throws DomainError BAD_USER_INPUT naming `field` otherwise (never a database error).
 */
export function requireId(id: unknown, field = 'id'): string {
  if (!isId(id)) throw invalidInput(field, `${field} must be a 24-character hexadecimal id`);
  return id;
}
