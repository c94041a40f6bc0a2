/**
 * The users every test signs in as, the way a real client does: HTTP basic credentials checked
 * by the platform's authentication (AUTH_USERS). The suite never switches security off.
 */

export interface TestUser {
  readonly username: string;
  readonly password: string;
  /** The authorization subject the platform gives this user (`nginx:<user>`, as Ditto's nginx). */
  readonly subject: string;
}

export const TEST_USERS = {
  ditto: { username: 'ditto', password: 'ditto', subject: 'nginx:ditto' },
  alice: { username: 'alice', password: 'alice-secret', subject: 'nginx:alice' },
  bob: { username: 'bob', password: 'bob-secret', subject: 'nginx:bob' },
} as const satisfies Record<string, TestUser>;

export type TestUserName = keyof typeof TEST_USERS;

/** The default user: what the official Ditto client tests and the sync sign in with. */
export const DEFAULT_TEST_USER: TestUserName = 'ditto';

/** AUTH_USERS for every platform a test starts: `user:password` pairs. */
export const TEST_AUTH_USERS_ENV = 'ditto:ditto,alice:alice-secret,bob:bob-secret';

/** Settings with which the caller configures authentication itself; then no default is added. */
const AUTH_SETTINGS = ['AUTH_USERS', 'AUTH_USERS_FILE', 'AUTH_OIDC_ISSUERS', 'AUTH_PRE_AUTHENTICATED'];

/** `env` with AUTH_USERS set to the test users, unless it already configures authentication. */
export function withTestAuth(env: Record<string, string> = {}): Record<string, string> {
  if (AUTH_SETTINGS.some((k) => env[k] !== undefined)) return env;
  return { AUTH_USERS: TEST_AUTH_USERS_ENV, ...env };
}

/**
 * The test process's environment without any AUTH_* setting, for a child platform: whatever the
 * shell running the tests has set, the child's authentication is only what the test gives it.
 */
export function inheritedEnvWithoutAuth(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('AUTH_')));
}

export function testUser(user: TestUserName = DEFAULT_TEST_USER): TestUser {
  return TEST_USERS[user];
}

/** `Basic <base64(user:password)>` for one of the test users. */
export function basicAuthHeader(user: TestUserName = DEFAULT_TEST_USER): string {
  const { username, password } = TEST_USERS[user];
  return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
}

/** `{ authorization }` for fetch, `ws`, an SSE request or supertest's `.set()`. */
export function authHeaders(user: TestUserName = DEFAULT_TEST_USER): { authorization: string } {
  return { authorization: basicAuthHeader(user) };
}
