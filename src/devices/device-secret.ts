import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/**
 * Device secrets and their scrypt hashes. A hash is stored as `scrypt$N$r$p$<salt>$<hash>`
 * (base64url), so each carries its own salt and cost and the cost can change without breaking
 * stored hashes.
 *
 * Two costs: the cost of a KDF only buys time against guessing, and a generated secret (256
 * random bits) cannot be guessed, so its hash uses a cost that lets a whole fleet reconnect after
 * a restart (N = 2^10, 1 MiB, a few ms); a secret the caller chose may be weak and gets N = 2^15
 * (32 MiB, a few hundred ms on a small vCPU).
 */
export const GENERATED_COST = { N: 2 ** 10, r: 8, p: 1 } as const;
export const CHOSEN_COST = { N: 2 ** 15, r: 8, p: 1 } as const;

const KEY_BYTES = 32;
const SALT_BYTES = 16;
/** The largest N a stored hash may ask for: a tampered row must not exhaust memory. */
const MAX_N = 2 ** 17;
export const SECRET_MIN_LENGTH = 16;
export const SECRET_MAX_LENGTH = 256;

interface Cost {
  N: number;
  r: number;
  p: number;
}

/** 256 random bits, base64url: what the platform hands out when the caller gives no secret. */
export function generateSecret(): string {
  return randomBytes(32).toString('base64url');
}

/** Why a chosen secret is unusable, or undefined. Printable ASCII, 16 to 256 characters. */
export function secretProblem(secret: unknown): string | undefined {
  if (typeof secret !== 'string') return 'The secret must be a string.';
  if (secret.length < SECRET_MIN_LENGTH || secret.length > SECRET_MAX_LENGTH) {
    return `The secret must have ${SECRET_MIN_LENGTH} to ${SECRET_MAX_LENGTH} characters.`;
  }
  // MQTT passwords are bytes; printable ASCII keeps every client and shell able to send it as is.
  if (!/^[\x21-\x7e]+$/.test(secret))
    return 'The secret may only contain printable ASCII characters, no spaces.';
  return undefined;
}

function derive(secret: Buffer, salt: Buffer, cost: Cost): Promise<Buffer> {
  const options: ScryptOptions = { ...cost, maxmem: 256 * cost.N * cost.r };
  return new Promise((ok, fail) =>
    scrypt(secret, salt, KEY_BYTES, options, (err, key) => (err ? fail(err) : ok(key))),
  );
}

export async function hashSecret(secret: string, cost: Cost): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const key = await derive(Buffer.from(secret, 'utf8'), salt, cost);
  return ['scrypt', cost.N, cost.r, cost.p, salt.toString('base64url'), key.toString('base64url')].join('$');
}

/** Whether `password` matches the stored hash; false for a hash this code cannot read. */
export async function verifySecret(password: Buffer, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [N, r, p] = parts.slice(1, 4).map(Number);
  if (![N, r, p].every(Number.isSafeInteger) || N < 2 || N > MAX_N || r < 1 || r > 32 || p < 1 || p > 16) {
    return false;
  }
  const salt = Buffer.from(parts[4], 'base64url');
  const expected = Buffer.from(parts[5], 'base64url');
  if (expected.length !== KEY_BYTES) return false;
  const key = await derive(password, salt, { N, r, p });
  return timingSafeEqual(key, expected);
}

/** A device's stored hashes: the current one, and the one before the last rotation with its end. */
export interface StoredSecrets {
  secretHash: string;
  previousHash: string | null;
  previousUntil: Date | null;
}

/**
 * Whether `password` is the device's current secret, or its previous one while the rotation's
 * grace period lasts (until `previousUntil`, exclusive).
 */
export async function verifyCredentials(
  password: Buffer,
  stored: StoredSecrets,
  now: Date = new Date(),
): Promise<boolean> {
  if (await verifySecret(password, stored.secretHash)) return true;
  if (stored.previousHash === null || stored.previousUntil === null) return false;
  if (stored.previousUntil.getTime() <= now.getTime()) return false;
  return verifySecret(password, stored.previousHash);
}
