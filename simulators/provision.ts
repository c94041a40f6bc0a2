import { readFileSync } from 'node:fs';
import { thingIdFor, type ProfileName } from './contract.js';

/** Things per call of the platform's bulk provisioning (its limit). */
const PER_CALL = 1000;

/** The thing ids a fleet run uses: `<namespace>:<profile>-<first>` onwards. */
export function fleetThingIds(
  namespace: string,
  profile: ProfileName,
  first: number,
  devices: number,
): string[] {
  return Array.from({ length: devices }, (_, i) => thingIdFor(namespace, profile, first + i));
}

/**
 * Provisions the devices on the platform (POST /api/2/devices/provision as `user`, "name:password"):
 * creates the missing things and gives each a generated secret (existing credentials are rotated,
 * the previous secret stays valid for the platform's grace period). Returns thingId → secret.
 */
export async function provisionFleet(
  api: string,
  user: string,
  thingIds: string[],
): Promise<Record<string, string>> {
  const colon = user.indexOf(':');
  if (colon < 1) throw new Error('the API user must be given as name:password');
  const authorization = `Basic ${Buffer.from(user).toString('base64')}`;
  const secrets: Record<string, string> = {};
  for (let i = 0; i < thingIds.length; i += PER_CALL) {
    const res = await fetch(new URL('/api/2/devices/provision', api), {
      method: 'POST',
      headers: { authorization, 'content-type': 'application/json' },
      body: JSON.stringify({ things: thingIds.slice(i, i + PER_CALL).map((thingId) => ({ thingId })) }),
    });
    const text = await res.text();
    if (res.status !== 200)
      throw new Error(`provisioning at ${api} failed: ${res.status} ${text.slice(0, 500)}`);
    for (const t of (JSON.parse(text) as { things: { thingId: string; secret: string }[] }).things) {
      secrets[t.thingId] = t.secret;
    }
  }
  return secrets;
}

/** A credentials file: a JSON object thingId → secret (what provisioning returned, kept by the operator). */
export function readCredentialsFile(path: string): Record<string, string> {
  const parsed: unknown = JSON.parse(readFileSync(path, 'utf8'));
  if (
    typeof parsed !== 'object' ||
    parsed === null ||
    Array.isArray(parsed) ||
    Object.values(parsed).some((v) => typeof v !== 'string')
  ) {
    throw new Error(`${path} must hold a JSON object of thingId → secret`);
  }
  return parsed as Record<string, string>;
}
