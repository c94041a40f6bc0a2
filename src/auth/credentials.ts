/**
 * Pure parsing of what a client presents and of the configured users. Everything here reads
 * client input with indexOf/split, never with a backtracking regex, and returns undefined for
 * anything malformed instead of throwing: the caller turns that into one 401.
 */

/** A bearer token larger than any real OpenID Connect token is refused before it is parsed. */
export const MAX_TOKEN_LENGTH = 8192;
/** Longest user name or password accepted in a Basic header. */
const MAX_BASIC_LENGTH = 1024;

export type Presented =
  | { kind: 'none' }
  | { kind: 'basic'; user: string; password: string }
  | { kind: 'bearer'; token: string }
  | { kind: 'malformed'; scheme: 'basic' | 'bearer' | 'unknown' };

/** Reads `Authorization: Basic <base64(user:password)>` or `Authorization: Bearer <token>`. */
export function parseAuthorization(header: string | undefined): Presented {
  if (header === undefined) return { kind: 'none' };
  const value = header.trim();
  if (value === '') return { kind: 'malformed', scheme: 'unknown' };
  const space = value.indexOf(' ');
  const scheme = (space < 0 ? value : value.slice(0, space)).toLowerCase();
  const rest = space < 0 ? '' : value.slice(space + 1).trim();
  if (scheme === 'basic') return parseBasic(rest);
  if (scheme === 'bearer') {
    return isToken68(rest) && rest.length <= MAX_TOKEN_LENGTH
      ? { kind: 'bearer', token: rest }
      : { kind: 'malformed', scheme: 'bearer' };
  }
  return { kind: 'malformed', scheme: 'unknown' };
}

function parseBasic(encoded: string): Presented {
  const malformed = { kind: 'malformed', scheme: 'basic' } as const;
  if (encoded === '' || encoded.length > 4 * MAX_BASIC_LENGTH || !isBase64(encoded)) return malformed;
  const decoded = Buffer.from(encoded, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) return malformed;
  const user = decoded.slice(0, colon);
  const password = decoded.slice(colon + 1);
  if (password === '' || hasControlChar(user) || decoded.includes('\uFFFD')) return malformed;
  return { kind: 'basic', user, password };
}

/** RFC 7235 token68: the characters a JWT (base64url with dots) is made of. */
function isToken68(s: string): boolean {
  if (s === '') return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const ok =
      (c >= 0x30 && c <= 0x39) ||
      (c >= 0x41 && c <= 0x5a) ||
      (c >= 0x61 && c <= 0x7a) ||
      '-._~+/='.includes(s[i]);
    if (!ok) return false;
  }
  return true;
}

/** Strict standard base64 with padding: Node's decoder would silently skip junk. */
function isBase64(s: string): boolean {
  if (s.length % 4 !== 0) return false;
  let pad = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (s[i] === '=') {
      pad++;
      continue;
    }
    if (pad > 0) return false;
    const ok =
      (c >= 0x30 && c <= 0x39) ||
      (c >= 0x41 && c <= 0x5a) ||
      (c >= 0x61 && c <= 0x7a) ||
      c === 0x2b ||
      c === 0x2f;
    if (!ok) return false;
  }
  return pad <= 2;
}

function hasControlChar(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return true;
  }
  return false;
}

/** `<issuer>:<subject>` as a trusted proxy sends it in `x-ditto-pre-authenticated`. */
export function parsePreAuthenticated(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const value = header.trim();
  const colon = value.indexOf(':');
  if (colon <= 0 || colon === value.length - 1 || value.length > 256) return undefined;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c <= 0x20 || c === 0x7f || value[i] === ',') return undefined;
  }
  return value;
}

/** A configured user's secret: a plain password (AUTH_USERS) or a bcrypt hash (htpasswd, generated). */
export type StoredSecret = { kind: 'plain'; password: string } | { kind: 'bcrypt'; hash: string };

export class UsersConfigError extends Error {}

/** `AUTH_USERS=user:password,user2:password2`; a password runs to the next comma. */
export function parseUsersList(value: string): Map<string, StoredSecret> {
  const users = new Map<string, StoredSecret>();
  value.split(',').forEach((entry, i) => {
    const item = entry.trim();
    if (item === '') return;
    const colon = item.indexOf(':');
    // Never quote the entry: it holds a password.
    if (colon <= 0 || colon === item.length - 1) {
      throw new UsersConfigError(`AUTH_USERS: entry ${i + 1} is not user:password`);
    }
    users.set(item.slice(0, colon), { kind: 'plain', password: item.slice(colon + 1) });
  });
  return users;
}

const BCRYPT_PREFIXES = ['$2a$', '$2b$', '$2y$'];

/** htpasswd lines `user:<bcrypt hash>`; blank lines and `#` comments are skipped. */
export function parseHtpasswd(text: string, source: string): Map<string, StoredSecret> {
  const users = new Map<string, StoredSecret>();
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const colon = line.indexOf(':');
    const hash = line.slice(colon + 1);
    if (colon <= 0) throw new UsersConfigError(`${source}: line ${i + 1} is not user:hash`);
    if (!BCRYPT_PREFIXES.some((p) => hash.startsWith(p)) || hash.length !== 60) {
      throw new UsersConfigError(
        `${source}: line ${i + 1} is not a bcrypt hash ($2y$, $2a$ or $2b$; \`htpasswd -nbB user password\` makes one)`,
      );
    }
    users.set(line.slice(0, colon), { kind: 'bcrypt', hash });
  });
  return users;
}
