/**
 * The embedded identity provider's fixed facts, without the provider (importing
 * node-oidc-provider is not needed to ask it for a token: `npm run token` imports only this).
 */

/** The audience (resource indicator) of the access tokens the gateway accepts, by default. */
export const DEFAULT_AUDIENCE = 'urn:courses:api';

/** The grant `courses-cli` uses to get a demo person's token (parameter `username`). DEV-ONLY. */
export const DEMO_GRANT = 'urn:courses:params:oauth:grant-type:demo-user';

/** A person the provider knows; `roles` are the words the provider itself uses (mapped by the gateway). */
export interface DemoUser {
  sub: string;
  name: string;
  roles: string[];
}

/** The demo people of `npm start`: the ones the pages offered before sign-in existed. */
export const DEMO_USERS: readonly DemoUser[] = [
  { sub: 's-1', name: 'Student One', roles: ['STUDENT'] },
  { sub: 's-2', name: 'Student Two', roles: ['STUDENT'] },
  { sub: 's-3', name: 'Student Three', roles: ['STUDENT'] },
  { sub: 'i-1', name: 'Instructor One', roles: ['INSTRUCTOR'] },
  { sub: 'i-2', name: 'Instructor Two', roles: ['INSTRUCTOR'] },
  { sub: 'a-1', name: 'Admin', roles: ['ADMIN'] },
];
