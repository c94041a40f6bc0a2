import { pbkdf2Sync, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from '@jest/globals';
import bcrypt from 'bcryptjs';
import { CORE_SCHEMA, load, mergeTag } from 'js-yaml';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { parseHtpasswd } from '../../../src/auth/credentials.js';
import { DEFAULT_NAMESPACE as SIMULATOR_NAMESPACE, thingIdFor } from '../../../simulators/contract.js';
import { MESSAGE_TOPIC_FILTERS } from '../../../src/protocol/messages.js';

/**
 * No Docker engine runs where the tests run, so docker-compose.yml is checked on paper: what a
 * user of `docker compose up` would trip over (a missing config file, services pointing at
 * each other by wrong names, mismatched Ditto versions, a login nginx refuses).
 */

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const read = (path: string): string => readFileSync(`${ROOT}${path}`, 'utf8');

interface Service {
  image?: string;
  build?: string | { context: string; dockerfile?: string };
  command?: string | string[];
  environment?: Record<string, string> | string[];
  volumes?: string[];
  ports?: string[];
  depends_on?: string[] | Record<string, { condition?: string }>;
  healthcheck?: { disable?: boolean; test?: string | string[] };
}

interface Compose {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
}

// Compose reads YAML merge keys (`<<: *ditto-env`); js-yaml needs them enabled.
const compose = load(read('docker-compose.yml'), {
  schema: CORE_SCHEMA.withTags(mergeTag),
}) as Compose;
const services = Object.entries(compose.services);

/** `${NAME:-default}` as compose resolves it when NAME is unset; `$$` is a literal `$`. */
function interpolate(value: string): string {
  return value
    .replace(/\$\{(\w+)(?::?-([^}]*))?\}/g, (_, _name: string, fallback?: string) => fallback ?? '')
    .replace(/\$\$/g, '$');
}

function env(service: Service): Record<string, string> {
  const raw = service.environment ?? {};
  const pairs = Array.isArray(raw)
    ? raw.map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)])
    : Object.entries(raw);
  return Object.fromEntries(pairs.map(([k, v]) => [k, interpolate(String(v))]));
}

function dependencies(service: Service): string[] {
  const deps = service.depends_on ?? [];
  return Array.isArray(deps) ? deps : Object.keys(deps);
}

/** The service run from an image of that repository (`eclipse-mosquitto`, `nginx`, …). */
function serviceOf(repository: string): string {
  const found = services.filter(([, s]) => s.image && imageName(s.image).repository.endsWith(repository));
  expect(found.map(([name]) => name)).toHaveLength(1);
  return found[0][0];
}

function imageName(image: string): { repository: string; tag: string } {
  const resolved = interpolate(image);
  const colon = resolved.indexOf(':', resolved.lastIndexOf('/'));
  return colon < 0
    ? { repository: resolved, tag: 'latest' }
    : { repository: resolved.slice(0, colon), tag: resolved.slice(colon + 1) };
}

/** nginx's {SSHA} scheme: base64(SHA-1(password + salt) + salt). */
/** Where a service mounts a repository file, by container path. */
function mountOf(service: Service, target: string): string | undefined {
  const volume = (service.volumes ?? []).find((v) => v.split(':')[1] === target);
  return volume?.split(':')[0].replace(/^\.\//, '');
}

/** deploy/mosquitto/dynamic-security.json: Mosquitto's dynamic security plugin's users and topics. */
interface DynSec {
  defaultACLAccess: Record<string, boolean>;
  clients: {
    username: string;
    clientid?: string;
    password: string;
    salt: string;
    iterations: number;
    roles: { rolename: string }[];
  }[];
  roles: { rolename: string; acls: { acltype: string; topic: string; allow: boolean }[] }[];
}

/** The plugin's check: PBKDF2-SHA512 of the password with the client's salt and iterations. */
function mosquittoLogin(dynsec: DynSec, username: string, password: string) {
  const client = dynsec.clients.find((c) => c.username === username);
  if (!client) return undefined;
  const hash = Buffer.from(client.password, 'base64');
  const tried = pbkdf2Sync(
    password,
    Buffer.from(client.salt, 'base64'),
    client.iterations,
    hash.length,
    'sha512',
  );
  if (!timingSafeEqual(tried, hash)) return undefined;
  const names = new Set(client.roles.map((r) => r.rolename));
  const acls = dynsec.roles.filter((r) => names.has(r.rolename)).flatMap((r) => r.acls);
  /** Allowed topics by ACL type, e.g. grants.publishClientSend. */
  const grants: Record<string, string[]> = {};
  for (const acl of acls) if (acl.allow) (grants[acl.acltype] ??= []).push(acl.topic);
  for (const list of Object.values(grants)) list.sort();
  return { clientid: client.clientid, grants };
}

/** A `key value` line of a Mosquitto config file. */
function confValue(conf: string, key: string): string | undefined {
  return new RegExp(`^${key} (.+)$`, 'm').exec(conf)?.[1];
}

describe('docker-compose.yml', () => {
  const platform = compose.services['twin-platform'];

  it('runs all Ditto services on one pinned 3.x version', () => {
    const ditto = services
      .map(([, s]) => (s.image ? imageName(s.image) : undefined))
      .filter((image) => image?.repository.includes('eclipse/ditto-'));

    expect(ditto.map((image) => image?.repository.replace(/^.*eclipse\//, '')).sort()).toEqual([
      'ditto-connectivity',
      'ditto-gateway',
      'ditto-policies',
      'ditto-things',
      'ditto-things-search',
    ]);
    expect(new Set(ditto.map((image) => image?.tag)).size).toBe(1);
    expect(ditto[0]?.tag).toMatch(/^3\.\d+\.\d+$/);
  });

  it('mounts only files that exist in the repository, and declares its named volumes', () => {
    for (const [name, service] of services) {
      for (const volume of service.volumes ?? []) {
        const source = volume.split(':')[0];
        if (source.startsWith('.') || source.startsWith('/')) {
          expect({ name, source, exists: existsSync(`${ROOT}${source}`) }).toEqual({
            name,
            source,
            exists: true,
          });
        } else {
          expect(Object.keys(compose.volumes ?? {})).toContain(source);
        }
      }
      const build = typeof service.build === 'string' ? { context: service.build } : service.build;
      if (build) expect(existsSync(`${ROOT}${build.context}/${build.dockerfile ?? 'Dockerfile'}`)).toBe(true);
    }
  });

  it('depends only on services it defines', () => {
    const names = Object.keys(compose.services);
    for (const [name, service] of services) {
      for (const target of dependencies(service))
        expect({ name, target, known: names.includes(target) }).toEqual({ name, target, known: true });
    }
  });

  it('points the platform at the stack: Postgres, Mosquitto and Ditto through its nginx', () => {
    const vars = env(platform);
    const ditto = new URL(vars.DITTO_URL);
    const mqtt = new URL(vars.MQTT_URL);
    const database = new URL(vars.DATABASE_URL);

    expect(ditto.hostname).toBe(serviceOf('nginx'));
    expect(read('deploy/ditto/nginx.conf')).toMatch(new RegExp(`listen ${ditto.port || '80'};`));
    expect(mqtt.hostname).toBe(serviceOf('eclipse-mosquitto'));
    expect(read('deploy/mosquitto/mosquitto.conf')).toMatch(
      new RegExp(`^listener ${mqtt.port || '1883'}$`, 'm'),
    );
    expect(database.hostname).toBe(serviceOf('postgres'));
    expect(dependencies(platform)).toEqual(expect.arrayContaining([database.hostname, mqtt.hostname]));
  });

  it('lets the platform log in to Ditto: its credentials are in nginx.htpasswd', () => {
    const { DITTO_USERNAME: user, DITTO_PASSWORD: password } = env(platform);
    const users = parseHtpasswd(read('deploy/ditto/nginx.htpasswd'), 'nginx.htpasswd');
    const secret = users.get(user);

    expect(secret?.kind).toBe('bcrypt');
    expect(bcrypt.compareSync(password, secret?.kind === 'bcrypt' ? secret.hash : '')).toBe(true);
  });

  it("signs in the same users as Ditto's nginx: the platform reads nginx's htpasswd file", () => {
    const nginx = compose.services[serviceOf('nginx')];
    const nginxFile = mountOf(nginx, '/etc/nginx/nginx.htpasswd');
    const platformFile = mountOf(platform, env(platform).AUTH_USERS_FILE);

    expect(nginxFile).toBe('deploy/ditto/nginx.htpasswd');
    expect(platformFile).toBe(nginxFile);
    // The platform refuses to start on lines it cannot check; this is what it will parse.
    expect(parseHtpasswd(read(platformFile ?? ''), platformFile ?? '').size).toBeGreaterThan(0);
  });

  it('syncs the namespaces the platform and the simulators create things in', () => {
    const vars = env(platform);
    const namespaces = vars.DITTO_NAMESPACES.split(',').map((ns) => ns.trim());
    expect(namespaces).toEqual(expect.arrayContaining([vars.DEFAULT_NAMESPACE, SIMULATOR_NAMESPACE]));
  });

  it('keeps the pre-authenticating gateway behind nginx', () => {
    const gateway = compose.services[serviceOf('eclipse/ditto-gateway')];
    expect(env(gateway).ENABLE_PRE_AUTHENTICATION).toBe('true');
    expect(gateway.ports ?? []).toEqual([]);
    expect(read('deploy/ditto/nginx.conf')).toContain('x-ditto-pre-authenticated "nginx:${remote_user}"');
  });

  it('runs the simulators from the platform image against Mosquitto', () => {
    const simulators = compose.services.simulators;
    const command = simulators.command as string[];
    const script = command[command.indexOf('node') + 1];

    expect(simulators.image).toBe(platform.image);
    // The image holds tsc's output: dist/simulators/cli.js comes from simulators/cli.ts.
    expect(existsSync(`${ROOT}${script.replace(/^dist\//, '').replace(/\.js$/, '.ts')}`)).toBe(true);
    expect(new URL(command[command.indexOf('--broker') + 1]).hostname).toBe(serviceOf('eclipse-mosquitto'));
    // The image's HEALTHCHECK probes the platform's HTTP port, which the simulators do not serve.
    expect(simulators.healthcheck?.disable).toBe(true);
  });

  describe('Mosquitto: no anonymous clients, each device on its own topics', () => {
    const mosquitto = compose.services[serviceOf('eclipse-mosquitto')];
    const conf = read('deploy/mosquitto/mosquitto.conf');
    const dynsecPath = confValue(conf, 'plugin_opt_config_file') ?? '';
    const dynsecFile = mountOf(mosquitto, dynsecPath);
    const dynsec = JSON.parse(read(dynsecFile ?? 'missing')) as DynSec;

    it("refuses anonymous clients and mounts the dynamic security plugin's file where the config says", () => {
      expect(confValue(conf, 'allow_anonymous')).toBe('false');
      // Where the eclipse-mosquitto image installs the plugin.
      expect(confValue(conf, 'plugin')).toBe('/usr/lib/mosquitto_dynamic_security.so');
      expect(dynsecFile).toBe('deploy/mosquitto/dynamic-security.json');
      expect((mosquitto.volumes ?? []).find((v) => v.includes(dynsecPath))).toMatch(/:ro$/);
      // What no role grants is refused.
      expect(dynsec.defaultACLAccess).toEqual({
        publishClientSend: false,
        publishClientReceive: false,
        subscribe: false,
        unsubscribe: true,
      });
    });

    it("lets the platform log in with MQTT_URL's credentials, to its shared subscription, desired state and message topics only", () => {
      const vars = env(platform);
      const url = new URL(vars.MQTT_URL);
      const login = mosquittoLogin(
        dynsec,
        decodeURIComponent(url.username),
        decodeURIComponent(url.password),
      );

      // Live messages: every replica's own (not shared) subscription, MESSAGE_TOPIC_FILTERS.
      const messages = [...MESSAGE_TOPIC_FILTERS].sort();
      expect(login?.grants).toEqual({
        // MqttConnection.filter on an external broker.
        subscribeLiteral: [`$share/${vars.MQTT_SHARE_GROUP}/things/#`, ...messages],
        unsubscribeLiteral: [`$share/${vars.MQTT_SHARE_GROUP}/things/#`, ...messages],
        publishClientReceive: ['things/#'],
        publishClientSend: [...messages, 'things/+/desired'].sort(),
      });
      // Any replica's client id (MQTT_CLIENT_ID differs per replica).
      expect(login?.clientid).toBeUndefined();
    });

    it("logs in the health check with a user that reads only Mosquitto's version", () => {
      const test = mosquitto.healthcheck?.test as string[];
      const arg = (flag: string) => interpolate(test[test.indexOf(flag) + 1]);
      const login = mosquittoLogin(dynsec, arg('-u'), arg('-P'));

      expect(arg('-t')).toBe('$SYS/broker/version');
      expect(login?.grants).toEqual({
        subscribeLiteral: ['$SYS/broker/version'],
        publishClientReceive: ['$SYS/broker/version'],
      });
    });

    it('has a user for every simulated device: username = client id = thingId, on its own topics only', () => {
      const simulators = compose.services.simulators;
      const command = simulators.command as string[];
      const flag = (name: string) =>
        command.includes(name) ? command[command.indexOf(name) + 1] : undefined;
      const devices = Number(flag('--devices'));
      const first = Number(flag('--first') ?? 1);
      const namespace = flag('--namespace') ?? SIMULATOR_NAMESPACE;
      const profile = (flag('--profile') ?? 'energy') as 'energy';
      const password = env(simulators).MQTT_PASSWORD;

      expect(devices).toBeGreaterThan(0);
      for (let n = first; n < first + devices; n++) {
        const id = thingIdFor(namespace, profile, n);
        const login = mosquittoLogin(dynsec, id, password);
        expect({ id, clientid: login?.clientid, grants: login?.grants }).toEqual({
          id,
          clientid: id,
          grants: {
            publishClientSend: [
              `things/${id}/ditto`,
              `things/${id}/features/+/outbox/#`,
              `things/${id}/outbox/#`,
              `things/${id}/status`,
              `things/${id}/telemetry`,
            ],
            subscribeLiteral: [`things/${id}/desired`],
            subscribePattern: [`things/${id}/features/+/inbox/#`, `things/${id}/inbox/#`],
            publishClientReceive: [
              `things/${id}/desired`,
              `things/${id}/features/+/inbox/#`,
              `things/${id}/inbox/#`,
            ],
          },
        });
      }
    });
  });
});

describe('monitoring (Prometheus, Grafana)', () => {
  const platform = compose.services['twin-platform'];
  const prometheusService = compose.services[serviceOf('prom/prometheus')];
  const grafana = compose.services[serviceOf('grafana/grafana')];
  const prometheusFile = mountOf(prometheusService, '/etc/prometheus/prometheus.yml') ?? '';
  const prometheus = load(read(prometheusFile)) as {
    scrape_configs: {
      job_name: string;
      metrics_path?: string;
      authorization?: { type?: string; credentials_file?: string };
      static_configs: { targets: string[] }[];
    }[];
  };
  const dashboardDir = mountOf(grafana, '/var/lib/grafana/dashboards') ?? '';

  it('pins the images', () => {
    for (const service of [prometheusService, grafana]) {
      expect(imageName(service.image ?? '').tag).toMatch(/^v?\d+\.\d+\.\d+$/);
    }
  });

  it("scrapes the platform's /metrics on its service and port, with the platform's METRICS_TOKEN", () => {
    const job = prometheus.scrape_configs.find((j) => j.job_name === 'twin-platform');
    const [host, port] = job?.static_configs[0].targets[0].split(':') ?? [];
    expect(host).toBe('twin-platform');
    expect(platform.ports).toContain(`${port}:${port}`);
    expect(job?.metrics_path ?? '/metrics').toBe('/metrics');
    expect(job?.authorization?.type ?? 'Bearer').toBe('Bearer');
    const tokenFile = mountOf(prometheusService, job?.authorization?.credentials_file ?? '');
    expect(read(tokenFile ?? '').trim()).toBe(env(platform).METRICS_TOKEN);
    // The platform refuses a shorter token at start (config.schema.ts).
    expect(env(platform).METRICS_TOKEN.length).toBeGreaterThanOrEqual(16);
  });

  it('provisions the Prometheus data source the dashboard uses, pointing at the prometheus service', () => {
    const dir = mountOf(grafana, '/etc/grafana/provisioning/datasources') ?? '';
    const sources = load(read(`${dir}/prometheus.yml`)) as { datasources: { uid: string; url: string }[] };
    const dashboard = JSON.parse(read(`${dashboardDir}/twin-platform.json`)) as {
      panels: { datasource?: { uid: string } }[];
    };
    const uids = new Set(dashboard.panels.flatMap((p) => (p.datasource ? [p.datasource.uid] : [])));
    expect([...uids]).toEqual([sources.datasources[0].uid]);
    expect(new URL(sources.datasources[0].url).hostname).toBe(serviceOf('prom/prometheus'));
    const providers = load(
      read(`${mountOf(grafana, '/etc/grafana/provisioning/dashboards')}/twin-platform.yml`),
    ) as { providers: { options: { path: string } }[] };
    expect(providers.providers[0].options.path).toBe('/var/lib/grafana/dashboards');
  });

  it('charts only metrics the platform exports', () => {
    const dashboard = read(`${dashboardDir}/twin-platform.json`);
    const exprs = [...dashboard.matchAll(/"expr": "((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]);
    const names = new Set(
      exprs.flatMap((e) => [...e.matchAll(/\b((?:twin|http|process|nodejs)_\w+)\b/g)].map((m) => m[1])),
    );
    const source = read('src/metrics/platform-metrics.ts');
    const defaults = new Registry();
    collectDefaultMetrics({ register: defaults });
    const defaultNames = defaults.getMetricsAsArray().map((m) => m.name);
    expect(names.size).toBeGreaterThan(20);
    for (const name of names) {
      const base = name.replace(/_(bucket|count|sum)$/, '');
      const exported =
        defaultNames.includes(base) ||
        source.includes(`'${base}'`) ||
        source.includes(`'${base.replace(/_total$/, '')}'`);
      expect([name, exported]).toEqual([name, true]);
    }
  });
});

describe('Dockerfile', () => {
  const lines = read('Dockerfile')
    .split('\n')
    .map((line) => line.trim());
  const runtime = lines.slice(lines.map((line) => line.startsWith('FROM ')).lastIndexOf(true));

  it('runs the runtime stage as an unprivileged user', () => {
    const users = runtime.filter((line) => line.startsWith('USER ')).map((line) => line.slice(5).trim());
    expect(users.length).toBeGreaterThan(0);
    expect(['root', '0', '0:0']).not.toContain(users.at(-1));
  });

  it('ships the compiled app, the simulators and the dashboard in the runtime stage', () => {
    expect(runtime).toContain('COPY --from=build /app/dist ./dist');
    expect(runtime.some((line) => line.includes('src/realtime/public'))).toBe(true);
    expect(runtime.find((line) => line.startsWith('CMD '))).toContain('dist/src/main.js');
  });

  it('sizes the heap for the service, within what the Kubernetes pod requests', () => {
    const heap = /NODE_OPTIONS=\S*--max-old-space-size=(\d+)/.exec(runtime.join('\n'));
    expect(heap).not.toBeNull();
    const pod = read('deploy/k8s/base/platform/statefulset.yaml');
    const requested = /memory: (\d+)Mi/.exec(pod.slice(pod.indexOf('requests:')));
    expect(requested).not.toBeNull();
    expect(Number(heap![1])).toBeLessThanOrEqual(Number(requested![1]));
  });
});
