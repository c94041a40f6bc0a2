import type { IncomingMessage } from 'node:http';

/**
 * Who a request acts for, in Ditto's terms: authorization subjects `<issuer>:<subject>` (e.g.
 * `nginx:alice` for an HTTP basic user, `<prefix>:<sub>` for an OpenID Connect token). Policies grant
 * and revoke permissions to these subjects. The first subject is the default subject (whoami).
 */
export interface AuthContext {
  readonly subjects: readonly string[];
  readonly defaultSubject: string;
  /**
   * Policies are not enforced for this context: only the anonymous demo mode (AUTH_ANONYMOUS=true)
   * sets it. What such a context creates still gets a policy naming its subject.
   */
  readonly unrestricted?: boolean;
}

/** The context to enforce policies for, or undefined when nothing is enforced. */
export function enforced(auth: AuthContext | undefined): AuthContext | undefined {
  return auth && !auth.unrestricted ? auth : undefined;
}

/** Where the HTTP authentication middleware leaves the context on a request it let through. */
const CONTEXTS = new WeakMap<IncomingMessage, AuthContext>();

export function attachAuth(req: IncomingMessage, auth: AuthContext): void {
  CONTEXTS.set(req, auth);
}

/** The authenticated context of a request, undefined on the open paths (health, docs). */
export function authOf(req: IncomingMessage): AuthContext | undefined {
  return CONTEXTS.get(req);
}

export function authContext(subjects: readonly string[]): AuthContext {
  if (subjects.length === 0) throw new TypeError('an auth context needs at least one subject');
  return { subjects, defaultSubject: subjects[0] };
}
