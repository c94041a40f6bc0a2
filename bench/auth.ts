/**
 * The user the benchmarks sign in as. The platform under bench runs with authentication on, as in
 * production (AUTH_USERS holding this one user), and every request and WebSocket upgrade the load
 * generator sends to it carries HTTP basic credentials, so the figures include checking them. The
 * raw baselines (bare node:http, pg, ws) check nothing and get no credentials.
 */
export const BENCH_USER = {
  username: process.env.BENCH_USER || 'bench',
  password: process.env.BENCH_PASSWORD || 'bench-secret',
};

/** Settings for a platform under bench: authentication with the bench user only. */
export function benchAuthEnv(): { AUTH_USERS: string } {
  return { AUTH_USERS: `${BENCH_USER.username}:${BENCH_USER.password}` };
}

/** `{ authorization }` for autocannon and `ws` requests to the platform under bench. */
export function benchAuthHeaders(): { authorization: string } {
  const token = Buffer.from(`${BENCH_USER.username}:${BENCH_USER.password}`).toString('base64');
  return { authorization: `Basic ${token}` };
}

/** The bench process's environment without AUTH_* settings, for a platform child process. */
export function envWithoutAuth(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('AUTH_')));
}
