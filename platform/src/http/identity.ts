/**
 * Caller identity as the gateway forwards it to subgraphs, and the checks built on it.
 *
 * The gateway verifies the caller's JWT and sends `x-user-id` / `x-user-role` together with
 * the shared `x-gateway-secret`; a subgraph trusts the identity headers only when the secret
 * matches (see {@link sameSecret}).
 */
import { timingSafeEqual } from 'node:crypto';
import { ErrorCode } from '../domain/index.js';
import { appError } from './errors.js';

export const ROLES = ['STUDENT', 'INSTRUCTOR', 'ADMIN'] as const;
export type Role = (typeof ROLES)[number];

/** True when `value` is one of {@link ROLES}. */
export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value);
}

/** An authenticated caller: `sub` is the user id from the JWT, `role` its role claim. */
export interface Identity {
  sub: string;
  role: Role;
}

/** Header names of the gateway → subgraph hop. */
export const HEADERS = {
  secret: 'x-gateway-secret',
  userId: 'x-user-id',
  role: 'x-user-role',
} as const;

/** Constant-time comparison of a presented secret with the expected one (crypto.timingSafeEqual); false when absent. */
export function sameSecret(presented: string | undefined | null, expected: string): boolean {
  if (!presented) return false;
  const a = Buffer.from(presented);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Reads the forwarded identity from request headers; undefined for an anonymous caller. */
export function identityFromHeaders(get: (name: string) => string | undefined | null): Identity | undefined {
  const sub = get(HEADERS.userId);
  const role = get(HEADERS.role);
  if (!sub || !isRole(role)) return undefined;
  return { sub, role: role as Role };
}

/** The request context every subgraph resolver receives. */
export interface RequestContext {
  identity?: Identity;
}

/** @throws GraphQLError UNAUTHENTICATED when the caller is anonymous. */
export function requireIdentity(ctx: RequestContext): Identity {
  if (!ctx.identity) throw appError(ErrorCode.UNAUTHENTICATED, 'sign in first: send Authorization: Bearer <JWT>');
  return ctx.identity;
}

/**
 * @throws GraphQLError UNAUTHENTICATED when anonymous, FORBIDDEN when the role is not one of `roles`.
 */
export function requireRole(ctx: RequestContext, ...roles: Role[]): Identity {
  const who = requireIdentity(ctx);
  if (!roles.includes(who.role)) {
    throw appError(ErrorCode.FORBIDDEN, `this operation needs role ${roles.join(' or ')}; you are ${who.role}`);
  }
  return who;
}
