import bcrypt from 'bcryptjs';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { StoredSecret } from './credentials.js';

/** Verified credentials remembered; beyond this the least recently used is forgotten. */
const CACHE_SIZE = 1000;
/** Compared against when the user is unknown, so that costs what a known user's check costs. */
let dummyHash: Promise<string> | undefined;

/**
 * Checks Basic credentials against the configured users. bcrypt costs tens of milliseconds by
 * design; a client repeats the same credentials on every request, so a successful check is
 * remembered by a SHA-256 of user and password (never the password itself) in a bounded LRU.
 */
export class BasicVerifier {
  private readonly verified = new Map<string, string>();

  private readonly anyHashed: boolean;

  constructor(private readonly users: ReadonlyMap<string, StoredSecret>) {
    this.anyHashed = [...users.values()].some((s) => s.kind === 'bcrypt');
  }

  get size(): number {
    return this.users.size;
  }

  /** Resolves to the user name when user and password match, undefined otherwise. */
  async verify(user: string, password: string): Promise<string | undefined> {
    const key = digest(`${user.length}:${user}:${password}`).toString('base64');
    const hit = this.verified.get(key);
    if (hit !== undefined) {
      this.verified.delete(key);
      this.verified.set(key, hit);
      return hit;
    }
    const secret = this.users.get(user) ?? (await this.unknownUser());
    if (!(await matches(secret, password)) || !this.users.has(user)) return undefined;
    this.verified.set(key, user);
    if (this.verified.size > CACHE_SIZE) this.verified.delete(this.verified.keys().next().value as string);
    return user;
  }

  private async unknownUser(): Promise<StoredSecret> {
    if (!this.anyHashed) return { kind: 'plain', password: '\u0000' };
    dummyHash ??= bcrypt.hash('not a password', 10);
    return { kind: 'bcrypt', hash: await dummyHash };
  }
}

async function matches(secret: StoredSecret, password: string): Promise<boolean> {
  if (secret.kind === 'bcrypt') return bcrypt.compare(password, secret.hash);
  // Digests have equal lengths, so timingSafeEqual applies and the length is not revealed.
  return timingSafeEqual(digest(password), digest(secret.password));
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}
