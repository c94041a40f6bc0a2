import { describe, expect, it } from '@jest/globals';
import {
  CHOSEN_COST,
  GENERATED_COST,
  generateSecret,
  hashSecret,
  secretProblem,
  verifyCredentials,
  verifySecret,
} from './device-secret.js';

const pw = (s: string) => Buffer.from(s, 'utf8');

describe('hashSecret / verifySecret', () => {
  it('stores scrypt with its own cost and salt, never the secret', async () => {
    const secret = generateSecret();
    const hash = await hashSecret(secret, GENERATED_COST);
    expect(hash).toMatch(/^scrypt\$1024\$8\$1\$[\w-]{22}\$[\w-]{43}$/);
    expect(hash).not.toContain(secret);
    // A fresh salt each time: the same secret never hashes alike.
    expect(await hashSecret(secret, GENERATED_COST)).not.toBe(hash);
    expect(await verifySecret(pw(secret), hash)).toBe(true);
    expect(await verifySecret(pw(`${secret}x`), hash)).toBe(false);
    expect(await verifySecret(pw(secret.slice(1)), hash)).toBe(false);
  });

  it('verifies a hash made with another cost (the cost travels with the hash)', async () => {
    const hash = await hashSecret('chosen-secret-0123456789', CHOSEN_COST);
    expect(hash.startsWith('scrypt$32768$8$1$')).toBe(true);
    expect(await verifySecret(pw('chosen-secret-0123456789'), hash)).toBe(true);
  });

  it.each([
    ['empty', ''],
    ['another scheme', 'bcrypt$2b$10$abc'],
    ['too few parts', 'scrypt$1024$8$1$salt'],
    [
      'N beyond the memory bound',
      'scrypt$4194304$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
    ],
    ['N not a number', 'scrypt$x$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'],
    ['r out of range', 'scrypt$1024$99$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'],
    ['a short key', 'scrypt$1024$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAA'],
  ])('refuses a stored hash it cannot trust (%s) instead of throwing', async (_what, stored) => {
    expect(await verifySecret(pw('anything-0123456789'), stored)).toBe(false);
  });
});

describe('secretProblem', () => {
  it.each([
    ['a'.repeat(16), undefined],
    ['!~'.repeat(128), undefined],
    ['a'.repeat(15), 'The secret must have 16 to 256 characters.'],
    ['a'.repeat(257), 'The secret must have 16 to 256 characters.'],
    ['with space 0123456789', 'The secret may only contain printable ASCII characters, no spaces.'],
    ['nul\u0000-0123456789abc', 'The secret may only contain printable ASCII characters, no spaces.'],
    ['ümlaut-0123456789abc', 'The secret may only contain printable ASCII characters, no spaces.'],
  ])('%j → %s', (secret, problem) => {
    expect(secretProblem(secret)).toBe(problem);
  });

  it('refuses what is not a string', () => {
    expect(secretProblem(42)).toBe('The secret must be a string.');
    expect(secretProblem(undefined)).toBe('The secret must be a string.');
  });

  it('generates 256-bit base64url secrets that pass its own rules', () => {
    const s = generateSecret();
    expect(s).toMatch(/^[\w-]{43}$/);
    expect(secretProblem(s)).toBeUndefined();
    expect(generateSecret()).not.toBe(s);
  });
});

describe('verifyCredentials: rotation with a grace period', () => {
  const now = new Date('2026-06-01T12:00:00Z');
  const later = (ms: number) => new Date(now.getTime() + ms);
  let current: string;
  let previous: string;

  it('accepts the current secret, and the previous one only until the grace period ends', async () => {
    current = await hashSecret('current-secret-0123456789', GENERATED_COST);
    previous = await hashSecret('previous-secret-0123456789', GENERATED_COST);
    const rotated = { secretHash: current, previousHash: previous, previousUntil: later(60_000) };
    expect(await verifyCredentials(pw('current-secret-0123456789'), rotated, now)).toBe(true);
    expect(await verifyCredentials(pw('previous-secret-0123456789'), rotated, now)).toBe(true);
    expect(await verifyCredentials(pw('previous-secret-0123456789'), rotated, later(59_999))).toBe(true);
    // The end of the grace period is exclusive.
    expect(await verifyCredentials(pw('previous-secret-0123456789'), rotated, later(60_000))).toBe(false);
    expect(await verifyCredentials(pw('previous-secret-0123456789'), rotated, later(3_600_000))).toBe(false);
    expect(await verifyCredentials(pw('current-secret-0123456789'), rotated, later(3_600_000))).toBe(true);
    expect(await verifyCredentials(pw('other-secret-0123456789'), rotated, now)).toBe(false);
  });

  it('accepts no previous secret without a grace period', async () => {
    const none = { secretHash: current, previousHash: previous, previousUntil: null };
    expect(await verifyCredentials(pw('previous-secret-0123456789'), none, now)).toBe(false);
    const first = { secretHash: current, previousHash: null, previousUntil: later(60_000) };
    expect(await verifyCredentials(pw('current-secret-0123456789'), first, now)).toBe(true);
    expect(await verifyCredentials(pw('previous-secret-0123456789'), first, now)).toBe(false);
  });
});
