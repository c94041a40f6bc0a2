import { spawn } from 'node:child_process';
import { pbkdf2Sync, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * A Mosquitto of the bench's own configured as the compose stack's (deploy/mosquitto): no
 * anonymous clients, the dynamic security plugin, each device a client of its own with its
 * client id bound and a role giving it only its own topics, and the platform's user. The
 * deploy file's platform client and role are used as they are; its device role is the template
 * for each bench device, so the ACLs measured are the shipped ones.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DEPLOY_CONF = join(ROOT, 'deploy/mosquitto/mosquitto.conf');
const DEPLOY_DYNSEC = join(ROOT, 'deploy/mosquitto/dynamic-security.json');
/** The deploy file's first device: its role is the template. */
const TEMPLATE_DEVICE = 'org.example.sim:energy-1';
/** The compose stack's demo password of the platform's user (deploy/mosquitto, README). */
const PLATFORM_USER = { username: 'twin-platform', password: 'twin-platform-secret' };
const PLUGINS = [
  process.env.MOSQUITTO_DYNSEC_PLUGIN,
  '/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so',
  '/usr/lib/aarch64-linux-gnu/mosquitto_dynamic_security.so',
  '/usr/lib/mosquitto_dynamic_security.so',
];

interface DynsecClient {
  username: string;
  clientid?: string;
  password: string;
  salt: string;
  iterations: number;
  roles: { rolename: string; priority: number }[];
  groups: unknown[];
}
interface DynsecRole {
  rolename: string;
  acls: { acltype: string; topic: string; priority: number; allow: boolean }[];
}
interface Dynsec {
  clients: DynsecClient[];
  roles: DynsecRole[];
  [key: string]: unknown;
}

/** Mosquitto's password form: PBKDF2-SHA512 with a 12-byte salt and a 64-byte hash, base64. */
function hashed(password: string): Pick<DynsecClient, 'password' | 'salt' | 'iterations'> {
  const salt = randomBytes(12);
  const iterations = 101;
  const hash = pbkdf2Sync(password, salt, iterations, 64, 'sha512');
  return { password: hash.toString('base64'), salt: salt.toString('base64'), iterations };
}

function dynsecFor(devices: readonly { thingId: string; password: string }[]): Dynsec {
  const deploy = JSON.parse(readFileSync(DEPLOY_DYNSEC, 'utf8')) as Dynsec;
  const platform = deploy.clients.find((c) => c.username === PLATFORM_USER.username);
  const templateRole = deploy.roles.find((r) => r.rolename === `device:${TEMPLATE_DEVICE}`);
  if (!platform || !templateRole)
    throw new Error(`${DEPLOY_DYNSEC} lacks the platform or ${TEMPLATE_DEVICE}`);
  const platformRoles = deploy.roles.filter((r) => platform.roles.some((pr) => pr.rolename === r.rolename));
  const clients: DynsecClient[] = [platform];
  const roles: DynsecRole[] = [...platformRoles];
  for (const { thingId, password } of devices) {
    const rolename = `device:${thingId}`;
    clients.push({
      username: thingId,
      clientid: thingId,
      ...hashed(password),
      roles: [{ rolename, priority: 0 }],
      groups: [],
    });
    roles.push({
      rolename,
      acls: templateRole.acls.map((a) => ({ ...a, topic: a.topic.replaceAll(TEMPLATE_DEVICE, thingId) })),
    });
  }
  return { ...deploy, clients, roles };
}

/** The deploy configuration with the bench's port and paths, no persistence, run as root. */
function configFor(port: number, dynsecFile: string): string {
  const plugin = PLUGINS.find((p): p is string => !!p && existsSync(p));
  if (!plugin) throw new Error('Mosquitto dynamic security plugin not found (MOSQUITTO_DYNSEC_PLUGIN)');
  const lines = readFileSync(DEPLOY_CONF, 'utf8')
    .split('\n')
    .flatMap((line) => {
      switch (line.trim().split(/\s+/)[0]) {
        case 'listener':
          return [`listener ${port} 127.0.0.1`];
        case 'persistence':
          return ['persistence false'];
        case 'persistence_location':
        case 'autosave_interval':
        case 'log_dest':
          return [];
        case 'plugin':
          return [`plugin ${plugin}`];
        case 'plugin_opt_config_file':
          return [`plugin_opt_config_file ${dynsecFile}`];
        default:
          return [line];
      }
    });
  return [...lines, 'log_dest none', 'user root', ''].join('\n');
}

export interface SecuredMosquitto {
  /** The broker's URL without credentials. */
  url: string;
  /** MQTT_URL for the platform: its own user. */
  platformUrl: string;
  platformUser: { username: string; password: string };
  /** Each device's password on this broker. */
  passwordOf: (thingId: string) => string;
  stop: () => void;
}

export async function startSecuredMosquitto(
  thingIds: readonly string[],
  port: number,
): Promise<SecuredMosquitto> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-mosquitto-secured-'));
  const passwords = new Map(thingIds.map((id) => [id, randomBytes(24).toString('base64url')]));
  const dynsecFile = join(dir, 'dynamic-security.json');
  writeFileSync(
    dynsecFile,
    JSON.stringify(dynsecFor(thingIds.map((thingId) => ({ thingId, password: passwords.get(thingId)! })))),
  );
  writeFileSync(join(dir, 'mosquitto.conf'), configFor(port, dynsecFile));
  const child = spawn('/usr/sbin/mosquitto', ['-c', join(dir, 'mosquitto.conf')], { stdio: 'ignore' });
  await new Promise((ok) => setTimeout(ok, 500));
  const url = `mqtt://127.0.0.1:${port}`;
  const { username, password } = PLATFORM_USER;
  return {
    url,
    platformUrl: `mqtt://${username}:${password}@127.0.0.1:${port}`,
    platformUser: PLATFORM_USER,
    passwordOf: (thingId) => passwords.get(thingId)!,
    stop: () => {
      child.kill('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
