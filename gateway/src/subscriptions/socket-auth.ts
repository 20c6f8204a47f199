/** Who may open a socket and run an operation on it: the pure checks of the subscription server. */

/** `Authorization` from an operation's `extensions.headers`, if any (any letter case, a non-empty string). */
export function operationAuthorization(extensions: unknown): string | undefined {
  const headers = (extensions as { headers?: Record<string, unknown> } | undefined)?.headers;
  if (!headers || typeof headers !== 'object') return undefined;
  const entry = Object.entries(headers).find(([k]) => k.toLowerCase() === 'authorization');
  return typeof entry?.[1] === 'string' && entry[1].trim() ? entry[1] : undefined;
}

/** True when browser origin `origin` names the host the request came to (same site); false for a malformed origin. */
export function sameHost(origin: string, host: string | undefined): boolean {
  try {
    return !!host && new URL(origin).host === host;
  } catch {
    return false;
  }
}

/**
 * True when a socket from browser origin `origin` may open: no Origin (not a browser), no
 * allow-list (`allowed` undefined: any), an allowed origin, or the gateway's own host.
 */
export function originAllowed(origin: string | undefined, host: string | undefined, allowed: readonly string[] | undefined): boolean {
  return !origin || !allowed || allowed.includes(origin) || sameHost(origin, host);
}
