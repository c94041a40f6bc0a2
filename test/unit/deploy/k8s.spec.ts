import { execFileSync } from 'node:child_process';
import { createHash, pbkdf2Sync, timingSafeEqual } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from '@jest/globals';
import { load, loadAll } from 'js-yaml';
import { StatefulSet } from 'kubernetes-models/apps/v1/StatefulSet';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import { configSchema, loadConfig } from '../../../src/config/config.schema.js';

/**
 * deploy/k8s is checked on paper: no cluster runs where the tests run. The kustomizations are
 * rendered by `render` below, a small kustomize that knows exactly the features they use (and
 * refuses any other); where `kubectl` is installed its `kubectl kustomize` output must equal
 * ours. Every object is then validated against the Kubernetes OpenAPI schemas shipped by the
 * `kubernetes-models` package, and the invariants the platform relies on are checked.
 */

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const K8S = join(ROOT, 'deploy/k8s');
const OVERLAYS = ['base', 'overlays/production'] as const;
const read = (path: string): string => readFileSync(join(ROOT, path), 'utf8');

// --- a minimal kustomize ------------------------------------------------------------------------

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Obj = Record<string, Json>;

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [field: string]: unknown;
}

interface Generator {
  name: string;
  literals?: string[];
  files?: string[];
}

interface Kustomization {
  apiVersion?: string;
  kind?: string;
  namespace?: string;
  resources?: string[];
  labels?: { pairs: Record<string, string>; includeSelectors?: boolean; includeTemplates?: boolean }[];
  images?: { name: string; newName?: string; newTag?: string }[];
  configMapGenerator?: Generator[];
  secretGenerator?: Generator[];
  patches?: { target?: { group?: string; version?: string; kind?: string; name?: string }; patch?: string }[];
}

/** The kustomization features `render` implements; anything else fails the test. */
const SUPPORTED = new Set([
  'apiVersion',
  'kind',
  'namespace',
  'resources',
  'labels',
  'images',
  'configMapGenerator',
  'secretGenerator',
  'patches',
]);
const CLUSTER_SCOPED = new Set(['Namespace']);

interface Build {
  objects: K8sObject[];
  /** Objects made by a generator: they get kustomize's content hash as a name suffix. */
  generated: Set<K8sObject>;
}

function buildDir(dir: string): Build {
  const k = load(readFileSync(join(dir, 'kustomization.yaml'), 'utf8')) as Kustomization;
  const unsupported = Object.keys(k).filter((key) => !SUPPORTED.has(key));
  if (unsupported.length > 0) throw new Error(`${dir}: render does not implement ${unsupported.join(', ')}`);
  if (k.kind !== undefined && k.kind !== 'Kustomization') throw new Error(`${dir}: kind ${k.kind}`);

  const objects: K8sObject[] = [];
  const generated = new Set<K8sObject>();
  for (const entry of k.resources ?? []) {
    const path = resolve(dir, entry);
    if (statSync(path).isDirectory()) {
      const sub = buildDir(path);
      objects.push(...sub.objects);
      sub.generated.forEach((o) => generated.add(o));
    } else {
      for (const doc of loadAll(readFileSync(path, 'utf8'))) if (doc) objects.push(doc as K8sObject);
    }
  }

  const generate = (kind: 'ConfigMap' | 'Secret', gen: Generator): void => {
    const extra = Object.keys(gen).filter((key) => !['name', 'literals', 'files'].includes(key));
    if (extra.length > 0) throw new Error(`${gen.name}: render does not implement ${extra.join(', ')}`);
    const data: Record<string, string> = {};
    for (const literal of gen.literals ?? []) {
      const eq = literal.indexOf('=');
      data[literal.slice(0, eq)] = literal.slice(eq + 1);
    }
    for (const file of gen.files ?? []) {
      const eq = file.indexOf('=');
      const [key, path] = eq < 0 ? [basename(file), file] : [file.slice(0, eq), file.slice(eq + 1)];
      const full = resolve(dir, path);
      // kustomize's load restrictor: no file from outside the kustomization's directory.
      if (relative(dir, full).startsWith('..')) throw new Error(`${path} is outside ${dir}`);
      data[key] = readFileSync(full, 'utf8');
    }
    const object: K8sObject =
      kind === 'ConfigMap'
        ? { apiVersion: 'v1', kind, metadata: { name: gen.name }, data }
        : {
            apiVersion: 'v1',
            kind,
            metadata: { name: gen.name },
            type: 'Opaque',
            data: Object.fromEntries(Object.entries(data).map(([key, v]) => [key, base64Lines(v)])),
          };
    objects.push(object);
    generated.add(object);
  };
  for (const gen of k.configMapGenerator ?? []) generate('ConfigMap', gen);
  for (const gen of k.secretGenerator ?? []) generate('Secret', gen);

  // Patches: JSON 6902 operation lists, each with a target.
  for (const { target, patch, ...rest } of k.patches ?? []) {
    if (!target || !patch || Object.keys(rest).length > 0) {
      throw new Error(`${dir}: render implements only JSON 6902 patches with a target`);
    }
    const ops = load(patch) as { op: string; path: string; value?: Json }[];
    if (!Array.isArray(ops)) throw new Error(`${dir}: render implements only JSON 6902 patches`);
    const matches = objects.filter((o) => {
      const [group, version] = o.apiVersion.includes('/') ? o.apiVersion.split('/') : ['', o.apiVersion];
      return (
        (target.kind === undefined || target.kind === o.kind) &&
        (target.name === undefined || target.name === o.metadata.name) &&
        (target.group === undefined || target.group === group) &&
        (target.version === undefined || target.version === version)
      );
    });
    if (matches.length === 0) throw new Error(`${dir}: a patch matches nothing (${JSON.stringify(target)})`);
    for (const object of matches) for (const op of ops) applyOp(object as unknown as Obj, op);
  }

  if (k.namespace !== undefined) {
    for (const o of objects) if (!CLUSTER_SCOPED.has(o.kind)) o.metadata.namespace = k.namespace;
  }
  for (const { pairs, includeSelectors, includeTemplates } of k.labels ?? []) {
    if (includeSelectors || includeTemplates) throw new Error('render labels only metadata');
    for (const o of objects) o.metadata.labels = { ...o.metadata.labels, ...pairs };
  }
  for (const image of k.images ?? []) {
    for (const container of podSpecs(objects).flatMap((s) => s.spec.containers)) {
      const [name, tag] = splitImage(container.image);
      if (name === image.name) {
        container.image = `${image.newName ?? name}${image.newTag ? `:${image.newTag}` : tag ? `:${tag}` : ''}`;
      }
    }
  }
  return { objects, generated };
}

/** kyaml's encodeBase64: from 70 characters on, lines of 70, each ending in a line feed. */
function base64Lines(value: string): string {
  const encoded = Buffer.from(value).toString('base64');
  if (encoded.length < 70) return encoded;
  return (encoded.match(/.{1,70}/g) ?? []).map((line) => `${line}\n`).join('');
}

function splitImage(image: string): [string, string | undefined] {
  const colon = image.lastIndexOf(':');
  return colon > image.lastIndexOf('/')
    ? [image.slice(0, colon), image.slice(colon + 1)]
    : [image, undefined];
}

/** One JSON 6902 operation (add, replace, remove) on a JSON pointer. */
function applyOp(doc: Obj, { op, path, value }: { op: string; path: string; value?: Json }): void {
  const keys = path
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  const last = keys.pop() as string;
  let node: Json | undefined = doc;
  for (const key of keys) {
    node = Array.isArray(node) ? node[Number(key)] : node[key];
    if (node === undefined || node === null || typeof node !== 'object') throw new Error(`no ${path}`);
  }
  const parent: Obj | Json[] = node;
  if (Array.isArray(parent)) {
    const index = last === '-' ? parent.length : Number(last);
    if (op === 'add') parent.splice(index, 0, value as Json);
    else if (op === 'replace' && index < parent.length) parent[index] = value as Json;
    else if (op === 'remove' && index < parent.length) parent.splice(index, 1);
    else throw new Error(`cannot ${op} ${path}`);
  } else if (op === 'add' || (op === 'replace' && last in parent)) parent[last] = value as Json;
  else if (op === 'remove' && last in parent) delete parent[last];
  else throw new Error(`cannot ${op} ${path}`);
}

/**
 * kustomize's name suffix (api/hasher): sha256 of the Go JSON of kind, name, data (and a
 * Secret's type). Its name is always "": it looks up the path "metadata/name" as one key.
 */
function nameHash(o: K8sObject): string {
  const fields: Obj = { kind: o.kind, name: '', data: o.data as Obj };
  if (o.kind === 'Secret') fields.type = o.type as string;
  // Go's encoding/json: sorted keys, and <, >, & escaped.
  const json = JSON.stringify(sortKeys(fields)).replace(
    /[<>&\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
  const swap: Record<string, string> = { '0': 'g', '1': 'h', '3': 'k', a: 'm', e: 't' };
  return [...createHash('sha256').update(json).digest('hex').slice(0, 10)].map((c) => swap[c] ?? c).join('');
}

function sortKeys(value: Json): Json {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.keys(value)
      .sort()
      .map((key) => [key, sortKeys(value[key])]),
  );
}

/** Builds a kustomization: suffixes generated names and points references at the new names. */
function render(path: string): K8sObject[] {
  const { objects, generated } = buildDir(join(K8S, path));
  const renamed = new Map<string, string>();
  for (const o of generated) {
    const name = `${o.metadata.name}-${nameHash(o)}`;
    renamed.set(`${o.kind}/${o.metadata.name}`, name);
    o.metadata.name = name;
  }
  const rename = (kind: string, ref: object | undefined, field = 'name'): void => {
    const r = ref as Record<string, string> | undefined;
    if (r?.[field] !== undefined) r[field] = renamed.get(`${kind}/${r[field]}`) ?? r[field];
  };
  for (const { spec } of podSpecs(objects)) {
    for (const v of spec.volumes ?? []) {
      rename('ConfigMap', v.configMap);
      rename('Secret', v.secret, 'secretName');
      for (const source of v.projected?.sources ?? []) {
        rename('ConfigMap', source.configMap);
        rename('Secret', source.secret);
      }
    }
    for (const c of spec.containers) {
      for (const from of c.envFrom ?? []) {
        rename('ConfigMap', from.configMapRef);
        rename('Secret', from.secretRef);
      }
      for (const e of c.env ?? []) {
        rename('ConfigMap', e.valueFrom?.configMapKeyRef);
        rename('Secret', e.valueFrom?.secretKeyRef);
      }
    }
  }
  return objects;
}

// --- the shapes the checks read -------------------------------------------------------------

interface Probe {
  httpGet?: { path: string; port: number | string };
  tcpSocket?: { port: number | string };
  exec?: { command: string[] };
}
interface Container {
  name: string;
  image: string;
  ports?: { name?: string; containerPort: number }[];
  env?: {
    name: string;
    value?: string;
    valueFrom?: {
      fieldRef?: { fieldPath: string };
      configMapKeyRef?: { name: string; key: string };
      secretKeyRef?: { name: string; key: string };
    };
  }[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  startupProbe?: Probe;
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  lifecycle?: { preStop?: { exec?: { command: string[] } } };
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: {
    readOnlyRootFilesystem?: boolean;
    allowPrivilegeEscalation?: boolean;
    capabilities?: { drop?: string[] };
  };
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
}
interface Volume {
  name: string;
  configMap?: { name: string };
  secret?: { secretName: string };
  projected?: { sources: { configMap?: { name: string }; secret?: { name: string } }[] };
  emptyDir?: object;
}
interface PodSpec {
  containers: Container[];
  volumes?: Volume[];
  terminationGracePeriodSeconds?: number;
  automountServiceAccountToken?: boolean;
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number; fsGroup?: number };
}
interface Workload extends K8sObject {
  spec: {
    replicas?: number;
    serviceName?: string;
    selector: { matchLabels: Record<string, string> };
    template: { metadata: { labels: Record<string, string> }; spec: PodSpec };
    volumeClaimTemplates?: {
      metadata: { name: string };
      spec: { resources: { requests: { storage: string } } };
    }[];
  };
}
interface Peer {
  podSelector?: { matchLabels?: Record<string, string> };
  namespaceSelector?: { matchLabels?: Record<string, string> };
}
interface NetPol extends K8sObject {
  spec: {
    podSelector: { matchLabels: Record<string, string> };
    policyTypes: string[];
    ingress?: { from?: Peer[]; ports?: { port: number; protocol?: string }[] }[];
    egress?: { to?: Peer[]; ports?: { port: number; protocol?: string }[] }[];
  };
}

function podSpecs(objects: K8sObject[]): { owner: K8sObject; spec: PodSpec }[] {
  return objects
    .filter((o) => ['StatefulSet', 'Deployment', 'DaemonSet', 'Job'].includes(o.kind))
    .map((o) => ({ owner: o, spec: (o as Workload).spec.template.spec }));
}

const matches = (selector: Record<string, string>, labels: Record<string, string>): boolean =>
  Object.entries(selector).every(([key, value]) => labels[key] === value);

// --- validation ---------------------------------------------------------------------------------

/** kubernetes-models' classes validate against the Kubernetes OpenAPI schema (ajv) and throw. */
const MODELS: Record<string, (data: unknown) => { validate(): void }> = {
  'v1/Namespace': (d) => new Namespace(d as never),
  'v1/ConfigMap': (d) => new ConfigMap(d as never),
  'v1/Secret': (d) => new Secret(d as never),
  'v1/Service': (d) => new Service(d as never),
  'apps/v1/StatefulSet': (d) => new StatefulSet(d as never),
  'policy/v1/PodDisruptionBudget': (d) => new PodDisruptionBudget(d as never),
  'autoscaling/v2/HorizontalPodAutoscaler': (d) => new HorizontalPodAutoscaler(d as never),
  'networking.k8s.io/v1/NetworkPolicy': (d) => new NetworkPolicy(d as never),
};

function validate(o: K8sObject): void {
  const model = MODELS[`${o.apiVersion}/${o.kind}`];
  if (o.apiVersion === 'postgresql.cnpg.io/v1' && o.kind === 'Cluster') return checkCnpgCluster(o);
  if (!model) throw new Error(`no schema for ${o.apiVersion} ${o.kind}`);
  model(o).validate();
}

/**
 * CloudNativePG's Cluster is a CRD without a schema in kubernetes-models: its apiVersion and
 * kind, the fields the platform depends on and the spec's field names (ClusterSpec of
 * CloudNativePG's api/v1, the part that this repository uses) are checked by hand.
 */
const CNPG_SPEC_FIELDS = new Set([
  'instances',
  'imageName',
  'imagePullPolicy',
  'bootstrap',
  'postgresql',
  'storage',
  'walStorage',
  'resources',
  'affinity',
  'topologySpreadConstraints',
  'primaryUpdateStrategy',
  'primaryUpdateMethod',
  'backup',
  'monitoring',
  'enablePDB',
  'superuserSecret',
  'enableSuperuserAccess',
  'description',
]);

function checkCnpgCluster(o: K8sObject): void {
  const spec = o.spec as {
    instances?: unknown;
    storage?: { size?: unknown };
    bootstrap?: { initdb?: { database?: unknown; owner?: unknown } };
    postgresql?: { parameters?: Record<string, unknown> };
  };
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(o.metadata.name)) throw new Error('bad Cluster name');
  const unknown = Object.keys(spec).filter((key) => !CNPG_SPEC_FIELDS.has(key));
  if (unknown.length > 0) throw new Error(`unknown Cluster spec fields ${unknown.join(', ')}`);
  if (!Number.isInteger(spec.instances) || (spec.instances as number) < 1) throw new Error('spec.instances');
  if (typeof spec.storage?.size !== 'string' || !/^\d+(Mi|Gi|Ti)$/.test(spec.storage.size)) {
    throw new Error('spec.storage.size must be a quantity such as 10Gi');
  }
  const initdb = spec.bootstrap?.initdb;
  if (typeof initdb?.database !== 'string' || typeof initdb.owner !== 'string') {
    throw new Error('spec.bootstrap.initdb needs database and owner (they make the -app secret)');
  }
  // The operator's API takes PostgreSQL parameters as strings only.
  for (const [key, value] of Object.entries(spec.postgresql?.parameters ?? {})) {
    if (typeof value !== 'string') throw new Error(`postgresql.parameters.${key} must be a string`);
  }
}

// --- what the app serves, reads and does on shutdown ------------------------------------------

/** The health routes from the controller's decorators: @Controller('health') + @Get('live'). */
function servedHealthRoutes(): string[] {
  const source = read('src/health/health.controller.ts');
  const prefix = /@Controller\('([^']*)'\)/.exec(source)?.[1] ?? '';
  return [...source.matchAll(/@Get\((?:'([^']*)')?\)/g)].map((m) =>
    `/${prefix}/${m[1] ?? ''}`.replace(/\/+$/, '').replace(/\/+/g, '/'),
  );
}

/** Batches the ingest commits at once (src/ingest/ingest.batcher.ts), all finished on SIGTERM. */
const PIPELINE = Number(/const PIPELINE = (\d+);/.exec(read('src/ingest/ingest.batcher.ts'))?.[1]);
/** The MQTT client's graceful end is waited for this long (src/ingest/mqtt-connection.ts). */
const MQTT_END_MS = Number(
  /endAsync\(false\), timeout\]/.test(read('src/ingest/mqtt-connection.ts'))
    ? /setTimeout\(ok, (\d+)\)/.exec(read('src/ingest/mqtt-connection.ts'))?.[1]
    : NaN,
);
/** On SIGTERM the ingest first leaves the share group (waited for at most this long)… */
const UNSUBSCRIBE_MS = Number(
  /unsubscribeAsync[\s\S]*?setTimeout\(ok, (\d+)\)|setTimeout\(ok, (\d+)\)[\s\S]*?unsubscribeAsync/
    .exec(read('src/ingest/mqtt-connection.ts'))
    ?.slice(1)
    .find((v) => v !== undefined),
);
/** …then commits what it had taken for at most this long (src/ingest/ingest.batcher.ts). */
const STOP_DRAIN_MS = Number(
  /STOP_DRAIN_MS = ([\d_]+);/.exec(read('src/ingest/ingest.batcher.ts'))?.[1].replace(/_/g, ''),
);
/**
 * A pessimistic commit rate for the drain: the ingest benchmark (README, "MQTT devices")
 * measures 12,000–29,000 readings/s on two vCPUs; a drain is budgeted at a tenth of the lower.
 */
const DRAIN_READINGS_PER_S = 1_200;

// --- the tests ------------------------------------------------------------------------------

const rendered = Object.fromEntries(OVERLAYS.map((path) => [path, render(path)])) as Record<
  (typeof OVERLAYS)[number],
  K8sObject[]
>;

/** kubectl (with its built-in kustomize) where this machine has it. */
const kubectl = ((): string | undefined => {
  try {
    execFileSync('kubectl', ['version', '--client'], { stdio: 'ignore' });
    return 'kubectl';
  } catch {
    return undefined;
  }
})();

const keyOf = (o: K8sObject): string => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;

/** Secret data as base64 without line breaks (kubectl wraps long values). */
function normalized(o: K8sObject): unknown {
  if (o.kind !== 'Secret') return o;
  const data = o.data as Record<string, string>;
  return { ...o, data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, v.replace(/\s/g, '')])) };
}

describe.each(OVERLAYS)('deploy/k8s/%s', (path) => {
  const objects = rendered[path];
  const find = <T extends K8sObject>(kind: string, name: string): T => {
    const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
    if (!found) throw new Error(`no ${kind} ${name} in ${path}`);
    return found as T;
  };
  const generatedName = (kind: string, name: string): string => {
    const found = objects.filter((o) => o.kind === kind && o.metadata.name.startsWith(`${name}-`));
    expect(found).toHaveLength(1);
    return found[0].metadata.name;
  };
  const platform = find<Workload>('StatefulSet', 'twin-platform');
  const pod = platform.spec.template.spec;
  const app = pod.containers[0];
  const config = find<K8sObject & { data: Record<string, string> }>(
    'ConfigMap',
    generatedName('ConfigMap', 'twin-platform-config'),
  );
  const secretData = (name: string, key: string): string | undefined => {
    const secret = objects.find((o) => o.kind === 'Secret' && o.metadata.name === name);
    const value = (secret?.data as Record<string, string> | undefined)?.[key];
    return value === undefined ? undefined : Buffer.from(value, 'base64').toString('utf8');
  };
  const mqttUrl = new URL(
    secretData(
      app.env?.find((e) => e.name === 'MQTT_URL')?.valueFrom?.secretKeyRef?.name ?? '',
      'MQTT_URL',
    ) ?? 'missing:',
  );

  (kubectl ? it : it.skip)('renders as `kubectl kustomize` does (kubectl on this machine)', () => {
    const output = execFileSync(kubectl ?? 'kubectl', ['kustomize', join(K8S, path)], { encoding: 'utf8' });
    const theirs = loadAll(output).filter(Boolean) as K8sObject[];
    const byKey = (list: K8sObject[]) =>
      Object.fromEntries(
        list.map((o) => [keyOf(o), normalized(o)]).sort(([a], [b]) => String(a).localeCompare(String(b))),
      );
    expect(byKey(objects)).toEqual(byKey(theirs));
  });

  it('validates every object against the Kubernetes schemas (kubernetes-models)', () => {
    expect(objects.length).toBeGreaterThan(10);
    const failures = objects.flatMap((o) => {
      try {
        // The API server's base64 decoder skips kyaml's line feeds; the schema's "byte" does not.
        validate(normalized(o) as K8sObject);
        return [];
      } catch (err) {
        return [`${o.kind} ${o.metadata.name}: ${(err as Error).message}`];
      }
    });
    expect(failures).toEqual([]);
    expect(new Set(objects.map(keyOf)).size).toBe(objects.length);
  });

  it('has a validator that refuses broken objects', () => {
    const broken = structuredClone(platform) as unknown as { spec: Workload['spec'] };
    (
      broken.spec.template.spec.containers[0].ports as unknown as { containerPort: string }[]
    )[0].containerPort = '8080';
    expect(() => validate(broken as unknown as K8sObject)).toThrow(/containerPort must be integer/);
    const noSelector = structuredClone(platform) as unknown as { spec: Partial<Workload['spec']> };
    delete noSelector.spec.selector;
    expect(() => validate(noSelector as unknown as K8sObject)).toThrow(/selector/);
    const cluster = structuredClone(find('Cluster', 'twin-postgres')) as unknown as {
      spec: Record<string, unknown>;
    };
    cluster.spec.instance = 3;
    expect(() => validate(cluster as unknown as K8sObject)).toThrow(/instance/);
  });

  it('probes paths the app serves, on the container port PORT names', () => {
    const served = servedHealthRoutes();
    expect(served).toEqual(expect.arrayContaining(['/health/live', '/health/ready']));
    expect(app.readinessProbe?.httpGet?.path).toBe('/health/ready');
    expect(app.livenessProbe?.httpGet?.path).toBe('/health/live');
    for (const probe of [app.readinessProbe, app.livenessProbe, app.startupProbe]) {
      expect(served).toContain(probe?.httpGet?.path);
      const port = probe?.httpGet?.port;
      const resolved =
        typeof port === 'number' ? port : app.ports?.find((p) => p.name === port)?.containerPort;
      expect(resolved).toBe(Number(config.data.PORT));
    }
    expect(app.ports?.map((p) => p.containerPort)).toEqual([8080]);
    expect(Number(config.data.PORT)).toBe(8080);
  });

  it('gives each of 3 replicas a stable, distinct MQTT client id: its pod name', () => {
    expect(platform.spec.replicas).toBe(3);
    const ids = app.env?.filter((e) => e.name === 'MQTT_CLIENT_ID') ?? [];
    expect(ids).toEqual([
      { name: 'MQTT_CLIENT_ID', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
    ]);
    // Nothing else sets it for all replicas at once.
    expect(Object.keys(config.data)).not.toContain('MQTT_CLIENT_ID');
    expect(config.data.MQTT_SHARE_GROUP).toBeTruthy();
    // A StatefulSet's pods are <name>-<ordinal>, the same after every restart.
    const hpa = find<K8sObject & { spec: Record<string, unknown> }>(
      'HorizontalPodAutoscaler',
      'twin-platform',
    );
    expect(hpa.spec.scaleTargetRef).toEqual({
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      name: 'twin-platform',
    });
    expect(hpa.spec.minReplicas).toBe(platform.spec.replicas);
    expect(hpa.spec.maxReplicas).toBeGreaterThan(3);
  });

  it('sets only settings the config schema knows, and they pass its validation', () => {
    const known = Object.keys(configSchema.shape);
    const env: Record<string, string> = {};
    for (const from of app.envFrom ?? []) {
      const ref = from.configMapRef ?? from.secretRef;
      const source = find(from.configMapRef ? 'ConfigMap' : 'Secret', ref?.name ?? '');
      for (const [key, value] of Object.entries(source.data as Record<string, string>)) {
        env[key] = from.configMapRef ? value : Buffer.from(value, 'base64').toString('utf8');
      }
    }
    for (const e of app.env ?? []) {
      const ref = e.valueFrom?.secretKeyRef;
      env[e.name] =
        e.value ??
        (e.valueFrom?.fieldRef ? `${platform.metadata.name}-0` : undefined) ??
        (ref ? secretData(ref.name, ref.key) : undefined) ??
        // CloudNativePG's -app secret, made by the operator: its `uri` has this form.
        `postgresql://twin:generated@${ref?.name.replace(/-app$/, '')}-rw.twin-platform:5432/twin`;
    }
    expect(Object.keys(env).filter((key) => !known.includes(key))).toEqual([]);
    expect(Object.keys(env)).toEqual(expect.arrayContaining(['DATABASE_URL', 'MQTT_URL', 'MQTT_CLIENT_ID']));
    const parsed = loadConfig(env);
    expect(parsed.PORT).toBe(8080);
    expect(parsed.MQTT_CLIENT_ID).toBe('twin-platform-0');
    // The users file is where the Secret is mounted.
    const mount = app.volumeMounts?.find((m) => parsed.AUTH_USERS_FILE?.startsWith(`${m.mountPath}/`));
    const volume = pod.volumes?.find((v) => v.name === mount?.name);
    const usersKey = parsed.AUTH_USERS_FILE?.slice((mount?.mountPath.length ?? 0) + 1) ?? '';
    expect(secretData(volume?.secret?.secretName ?? '', usersKey)).toBe(read('deploy/ditto/nginx.htpasswd'));
  });

  it('references only ConfigMaps and Secrets it has, or the CloudNativePG app secret', () => {
    const clusters = objects.filter((o) => o.kind === 'Cluster').map((o) => `${o.metadata.name}-app`);
    const refs: { kind: 'ConfigMap' | 'Secret'; name: string; key?: string }[] = [];
    for (const { spec } of podSpecs(objects)) {
      for (const v of spec.volumes ?? []) {
        if (v.configMap) refs.push({ kind: 'ConfigMap', name: v.configMap.name });
        if (v.secret) refs.push({ kind: 'Secret', name: v.secret.secretName });
        for (const s of v.projected?.sources ?? []) {
          if (s.configMap) refs.push({ kind: 'ConfigMap', name: s.configMap.name });
          if (s.secret) refs.push({ kind: 'Secret', name: s.secret.name });
        }
      }
      for (const c of spec.containers) {
        for (const f of c.envFrom ?? []) {
          if (f.configMapRef) refs.push({ kind: 'ConfigMap', name: f.configMapRef.name });
          if (f.secretRef) refs.push({ kind: 'Secret', name: f.secretRef.name });
        }
        for (const e of c.env ?? []) {
          const cm = e.valueFrom?.configMapKeyRef;
          const s = e.valueFrom?.secretKeyRef;
          if (cm) refs.push({ kind: 'ConfigMap', ...cm });
          if (s) refs.push({ kind: 'Secret', ...s });
        }
      }
    }
    expect(refs.length).toBeGreaterThanOrEqual(6);
    const dangling = refs.filter((ref) => {
      if (ref.kind === 'Secret' && clusters.includes(ref.name)) return ref.key !== 'uri';
      const target = objects.find((o) => o.kind === ref.kind && o.metadata.name === ref.name);
      return !target || (ref.key !== undefined && !(ref.key in (target.data as object)));
    });
    expect(dangling).toEqual([]);
    expect(refs).toContainEqual({ kind: 'Secret', name: 'twin-postgres-app', key: 'uri' });
  });

  it('stops gracefully within terminationGracePeriodSeconds', () => {
    expect(PIPELINE).toBeGreaterThan(0);
    expect(MQTT_END_MS).toBeGreaterThan(0);
    expect(UNSUBSCRIBE_MS).toBeGreaterThan(0);
    expect(STOP_DRAIN_MS).toBeGreaterThan(0);
    const batchMax = loadConfig(config.data).INGEST_BATCH_MAX;
    const preStop = Number(app.lifecycle?.preStop?.exec?.command.join(' ').match(/^sleep (\d+)$/)?.[1] ?? 0);
    // preStop, leaving the share group, committing what was taken (bounded), the running
    // batches commit, then the MQTT session ends.
    const drainSeconds =
      preStop +
      UNSUBSCRIBE_MS / 1000 +
      STOP_DRAIN_MS / 1000 +
      (PIPELINE * batchMax) / DRAIN_READINGS_PER_S +
      MQTT_END_MS / 1000;
    expect(preStop).toBeGreaterThan(0);
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(drainSeconds);
  });

  it('runs every container as non-root, read-only, with requests and limits', () => {
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000 });
    // The image's user: Dockerfile `USER node` (uid 1000 in node:*-bookworm-slim).
    expect(read('Dockerfile')).toMatch(/^USER node$/m);
    for (const { spec } of podSpecs(objects)) {
      expect(spec.securityContext?.runAsNonRoot).toBe(true);
      expect(spec.automountServiceAccountToken).toBe(false);
      for (const c of spec.containers) {
        expect(c.securityContext).toMatchObject({
          readOnlyRootFilesystem: true,
          allowPrivilegeEscalation: false,
          capabilities: { drop: ['ALL'] },
        });
        expect(Object.keys(c.resources?.requests ?? {}).sort()).toEqual(['cpu', 'memory']);
        expect(Object.keys(c.resources?.limits ?? {}).sort()).toEqual(['cpu', 'memory']);
        expect(c.readinessProbe && c.livenessProbe).toBeTruthy();
      }
    }
  });

  it('selects the platform pods from its Services, headless Service, PDB and NetworkPolicy', () => {
    const labels = platform.spec.template.metadata.labels;
    expect(matches(platform.spec.selector.matchLabels, labels)).toBe(true);
    const headless = find<K8sObject & { spec: { clusterIP?: string } }>(
      'Service',
      platform.spec.serviceName ?? '',
    );
    expect(headless.spec.clusterIP).toBe('None');
    for (const name of ['twin-platform', 'twin-platform-headless']) {
      const svc = find<
        K8sObject & { spec: { selector: Record<string, string>; ports: { targetPort: string }[] } }
      >('Service', name);
      expect(matches(svc.spec.selector, labels)).toBe(true);
      expect(app.ports?.map((p) => p.name)).toContain(svc.spec.ports[0].targetPort);
    }
    const pdb = find<
      K8sObject & { spec: { selector: { matchLabels: Record<string, string> }; maxUnavailable?: number } }
    >('PodDisruptionBudget', 'twin-platform');
    expect(matches(pdb.spec.selector.matchLabels, labels)).toBe(true);
    expect(pdb.spec.maxUnavailable).toBe(1);
  });

  it("limits the platform's network to 8080 in, PostgreSQL, Mosquitto and DNS out", () => {
    const policy = find<NetPol>('NetworkPolicy', 'twin-platform');
    expect(matches(policy.spec.podSelector.matchLabels, platform.spec.template.metadata.labels)).toBe(true);
    expect(policy.spec.policyTypes.sort()).toEqual(['Egress', 'Ingress']);
    expect(policy.spec.ingress?.flatMap((r) => r.ports?.map((p) => p.port))).toEqual([
      Number(config.data.PORT),
    ]);
    const egressTo = (port: number, protocol = 'TCP') =>
      (policy.spec.egress ?? []).filter((r) =>
        r.ports?.some((p) => p.port === port && (p.protocol ?? 'TCP') === protocol),
      );
    const cluster = find('Cluster', 'twin-postgres');
    expect(egressTo(5432).flatMap((r) => r.to)).toEqual([
      { podSelector: { matchLabels: { 'cnpg.io/cluster': cluster.metadata.name } } },
    ]);
    const broker = find<Workload>('StatefulSet', 'mosquitto');
    const mqttPeers = egressTo(Number(mqttUrl.port)).flatMap((r) => r.to ?? []);
    expect(mqttPeers).toHaveLength(1);
    expect(
      matches(mqttPeers[0].podSelector?.matchLabels ?? { none: '' }, broker.spec.template.metadata.labels),
    ).toBe(true);
    expect(egressTo(53, 'UDP')).toHaveLength(1);
    expect(egressTo(53, 'TCP')).toHaveLength(1);
    expect(policy.spec.egress).toHaveLength(3);
  });

  it('runs Mosquitto 2 with a volume, its config from a ConfigMap and its users from a Secret', () => {
    const broker = find<Workload>('StatefulSet', 'mosquitto');
    const c = broker.spec.template.spec.containers[0];
    // The compose stack's image.
    expect(read('docker-compose.yml')).toContain(`image: ${c.image}\n`);
    expect(c.image).toBe('eclipse-mosquitto:2.0.22');
    expect(broker.spec.replicas).toBe(1);
    const data = c.volumeMounts?.find((m) => m.mountPath === '/mosquitto/data');
    expect(broker.spec.volumeClaimTemplates?.map((t) => t.metadata.name)).toEqual([data?.name]);
    const configMount = c.volumeMounts?.find((m) => m.mountPath === '/mosquitto/config');
    const sources = broker.spec.template.spec.volumes?.find((v) => v.name === configMount?.name)?.projected
      ?.sources;
    const conf = (
      find('ConfigMap', sources?.find((s) => s.configMap)?.configMap?.name ?? '').data as Record<
        string,
        string
      >
    )['mosquitto.conf'];
    const dynsecName = sources?.find((s) => s.secret)?.secret?.name ?? '';
    // The same directives as the compose broker's file (comments may differ).
    const directives = (text: string) => text.split('\n').filter((l) => l.trim() && !l.startsWith('#'));
    expect(directives(conf)).toEqual(directives(read('deploy/mosquitto/mosquitto.conf')));
    expect(conf).toMatch(/^plugin_opt_config_file \/mosquitto\/config\/dynamic-security\.json$/m);
    expect(conf).toMatch(/^persistence_location \/mosquitto\/data\/$/m);
    const dynsec = JSON.parse(secretData(dynsecName, 'dynamic-security.json') ?? '{}') as DynSec;
    expect(dynsec.clients.length).toBeGreaterThan(0);

    // The platform's MQTT_URL names the broker's Service and a user the broker lets in, allowed
    // on the shared subscription of MQTT_SHARE_GROUP.
    const svc = find<K8sObject & { spec: { ports: { port: number }[]; selector: Record<string, string> } }>(
      'Service',
      mqttUrl.hostname,
    );
    expect(svc.spec.ports.map((p) => p.port)).toEqual([Number(mqttUrl.port)]);
    expect(matches(svc.spec.selector, broker.spec.template.metadata.labels)).toBe(true);
    const grants = mosquittoGrants(
      dynsec,
      decodeURIComponent(mqttUrl.username),
      decodeURIComponent(mqttUrl.password),
    );
    expect(grants?.subscribeLiteral).toContain(`$share/${config.data.MQTT_SHARE_GROUP}/things/#`);
    expect(grants?.publishClientSend).toContain('things/+/desired');
    // The readiness probe logs in as a user the file has.
    expect(c.readinessProbe?.exec?.command.slice(0, 5)).toEqual([
      'mosquitto_sub',
      '-u',
      'healthcheck',
      '-P',
      'healthcheck',
    ]);
    expect(mosquittoGrants(dynsec, 'healthcheck', 'healthcheck')).toBeDefined();
  });
});

describe('deploy/k8s files', () => {
  it('keeps its copies of the compose files identical (kustomize reads nothing outside its directory)', () => {
    expect(read('deploy/k8s/base/mosquitto/dynamic-security.json')).toBe(
      read('deploy/mosquitto/dynamic-security.json'),
    );
    expect(read('deploy/k8s/base/platform/users.htpasswd')).toBe(read('deploy/ditto/nginx.htpasswd'));
  });

  it('has an optional Ditto egress policy that is valid and selects the platform pods', () => {
    const policy = load(read('deploy/k8s/base/platform/networkpolicy-ditto.yaml')) as NetPol;
    validate(policy);
    const platform = rendered.base.find(
      (o) => o.kind === 'StatefulSet' && o.metadata.name === 'twin-platform',
    ) as Workload;
    expect(matches(policy.spec.podSelector.matchLabels, platform.spec.template.metadata.labels)).toBe(true);
    expect(policy.spec.policyTypes).toEqual(['Egress']);
  });

  it('puts the production overlay in its own namespace with a registry image', () => {
    const objects = rendered['overlays/production'];
    const ns = objects.find((o) => o.kind === 'Namespace');
    expect(ns?.metadata.name).toBe('twin-platform');
    expect(
      objects.filter((o) => o.kind !== 'Namespace').every((o) => o.metadata.namespace === ns?.metadata.name),
    ).toBe(true);
    const images = podSpecs(objects).flatMap((s) => s.spec.containers.map((c) => c.image));
    expect(images).toContain('registry.example.com/twin-platform:0.1.0');
    expect(existsSync(join(K8S, 'overlays/production/kustomization.yaml'))).toBe(true);
  });

  it('refuses kustomization features the renderer does not implement', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kustomize-'));
    try {
      writeFileSync(join(dir, 'kustomization.yaml'), 'namePrefix: prod-\nresources: []\n');
      expect(() => buildDir(dir)).toThrow(/does not implement namePrefix/);
      writeFileSync(
        join(dir, 'kustomization.yaml'),
        'configMapGenerator:\n  - name: x\n    files: [../x.conf]\n',
      );
      expect(() => buildDir(dir)).toThrow(/outside/);
    } finally {
      rmSync(dir, { recursive: true });
    }
  });
});

// --- Mosquitto's dynamic security file --------------------------------------------------------

interface DynSec {
  clients: {
    username: string;
    password: string;
    salt: string;
    iterations: number;
    roles: { rolename: string }[];
  }[];
  roles: { rolename: string; acls: { acltype: string; topic: string; allow: boolean }[] }[];
}

/** The topics a user may use by ACL type, if the password is right (PBKDF2-SHA512 as Mosquitto). */
function mosquittoGrants(
  dynsec: DynSec,
  username: string,
  password: string,
): Record<string, string[]> | undefined {
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
  if (!timingSafeEqual(hash, tried)) return undefined;
  const names = new Set(client.roles.map((r) => r.rolename));
  const grants: Record<string, string[]> = {};
  for (const role of dynsec.roles.filter((r) => names.has(r.rolename))) {
    for (const acl of role.acls) if (acl.allow) (grants[acl.acltype] ??= []).push(acl.topic);
  }
  return grants;
}
