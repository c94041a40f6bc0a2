/**
 * Validates HTTP responses received by the e2e suite against Eclipse Ditto's own OpenAPI description of
 * HTTP API v2 (vendored at test/fixtures/ditto-api-2.yml), so compatibility is checked against Ditto's
 * contract rather than against our reading of it.
 *
 * Parsing is js-yaml, schema validation is openapi-response-validator (Ajv 8 underneath); this file only
 * selects the right schema (path template, method, status, media type) and reports failures readably.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { load } from 'js-yaml';
import OpenAPIResponseValidatorModule, {
  type OpenAPIResponseValidatorArgs,
} from 'openapi-response-validator';

/** The package is CommonJS with `exports.default`; imported from ESM, the class sits on `.default`. */
const OpenAPIResponseValidator = OpenAPIResponseValidatorModule.default;

const SPEC_FILE = fileURLToPath(new URL('../fixtures/ditto-api-2.yml', import.meta.url));
const HTTP_METHODS = new Set(['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace']);

type JsonObject = Record<string, unknown>;

interface MediaTypeObject {
  schema?: JsonObject;
}

interface ResponseObject {
  description?: string;
  content?: Record<string, MediaTypeObject>;
}

interface OperationObject {
  responses?: Record<string, ResponseObject | { $ref: string }>;
}

interface OpenApiDocument {
  openapi: string;
  paths: Record<string, Record<string, unknown>>;
  components: JsonObject;
}

interface PathTemplate {
  template: string;
  regex: RegExp;
  /** Characters outside `{param}` placeholders: the more, the more specific the template. */
  literalLength: number;
  /** Placeholders that may span several segments (`…Path` params); fewer wins a tie. */
  multiSegmentParams: number;
}

/** What the e2e suite hands in: a supertest response or anything shaped like it. */
export interface ResponseLike {
  status: number;
  body: unknown;
  headers: Record<string, unknown>;
  text?: string;
}

/**
 * `format` values used in the spec. Ajv 8 ships no formats, and openapi-response-validator creates Ajv with
 * `strict: false` and a silent logger, so an unregistered format would be ignored *silently*. Instead every
 * format the vendored spec uses must be listed here, either with a check or — deliberately — with `null`
 * and a reason; loading the spec fails if it uses one that is not listed, so a spec update cannot quietly
 * weaken validation. (ajv-formats is not installed; these few checks are all the spec needs.)
 */
export const FORMATS: Record<string, ((value: string) => boolean) | null> = {
  // RFC 3339 date-time (JSON Schema / OpenAPI `date-time`).
  'date-time': (v) =>
    /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})$/.test(v) &&
    !Number.isNaN(Date.parse(v)),
  // RFC 3986 absolute URI: a scheme, then no whitespace or characters that must be percent-encoded.
  uri: (v) => /^[A-Za-z][A-Za-z0-9+.-]*:[^\s<>"{}|\\^`]*$/.test(v),
  // RFC 3987 IRI reference: may be relative and may contain non-ASCII; only forbid what can never occur.
  'iri-reference': (v) => !/[\s\u0000-\u001f\u007f<>"{}|\\^`]/.test(v),
  // OpenAPI's numeric width hint on `type: integer`. Ajv applies function formats to strings only, and the
  // `type: integer` check already holds; JSON numbers in JS cannot exceed int64 meaningfully anyway.
  int64: null,
};

let specCache: OpenApiDocument | undefined;
let templatesCache: PathTemplate[] | undefined;
const validatorCache = new Map<string, InstanceType<typeof OpenAPIResponseValidator>>();

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function collectFormats(node: unknown, found: Set<string>): void {
  if (Array.isArray(node)) {
    for (const item of node) collectFormats(item, found);
  } else if (isObject(node)) {
    if (typeof node.format === 'string') found.add(node.format);
    for (const value of Object.values(node)) collectFormats(value, found);
  }
}

export function spec(): OpenApiDocument {
  if (specCache) return specCache;
  const doc = load(readFileSync(SPEC_FILE, 'utf8'));
  if (
    !isObject(doc) ||
    typeof doc.openapi !== 'string' ||
    !isObject(doc.paths) ||
    !isObject(doc.components)
  ) {
    throw new Error(`${SPEC_FILE} is not an OpenAPI 3 document with paths and components`);
  }
  const formats = new Set<string>();
  collectFormats(doc.components, formats);
  collectFormats(doc.paths, formats);
  const unknown = [...formats].filter((f) => !(f in FORMATS));
  if (unknown.length > 0) {
    throw new Error(
      `${SPEC_FILE} uses formats not handled in test/support/openapi.ts: ${unknown.join(', ')}`,
    );
  }
  specCache = applyErrata(doc as unknown as OpenApiDocument);
  return specCache;
}

/**
 * Where Ditto's spec and Ditto's behaviour disagree, we follow the behaviour (the official
 * client and real installations rely on it). Each erratum says why.
 */
function applyErrata(doc: OpenApiDocument): OpenApiDocument {
  const schemas = doc.components.schemas as Record<string, JsonObject>;
  const thing = schemas.Thing as { properties: Record<string, unknown>; required?: string[] };
  // Ditto serialises the revision as a JSON number (a Java long); the spec calls it a string,
  // and the official client's Thing model reads a number.
  thing.properties._revision = { type: 'integer', minimum: 0 };
  // Ditto forwards the status the device (or WebSocket client) answered a message with, with its
  // payload of any content type ("the client chooses which HTTP status code it wants to return"),
  // yet the message operations document only 202 among the successes.
  for (const [template, item] of Object.entries(doc.paths)) {
    if (!/\/(inbox|outbox)\/messages\/\{messageSubject\}$/.test(template)) continue;
    const post = item.post as OperationObject | undefined;
    if (post?.responses) post.responses['2XX'] = { description: "The responder's answer, forwarded." };
  }
  return doc;
}

/**
 * Components where a Thing (or a Policy) may lack its required fields: with `fields=` Ditto
 * returns only the selection.
 */
let partialComponents: JsonObject | undefined;
function componentsFor(partial: boolean): JsonObject {
  if (!partial) return spec().components;
  if (!partialComponents) {
    partialComponents = structuredClone(spec().components);
    const schemas = partialComponents.schemas as Record<string, JsonObject>;
    for (const name of ['Thing', 'Policy']) (schemas[name] as { required?: string[] }).required = [];
  }
  return partialComponents;
}

function selectsFields(urlPath: string): boolean {
  return new URL(urlPath, 'http://x').searchParams.has('fields');
}

function escapeRegex(literal: string): string {
  return literal.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function templates(): PathTemplate[] {
  if (templatesCache) return templatesCache;
  templatesCache = Object.keys(spec().paths).map((template) => {
    let source = '';
    let literalLength = 0;
    let multiSegmentParams = 0;
    let last = 0;
    for (const m of template.matchAll(/\{([^}]+)\}/g)) {
      const literal = template.slice(last, m.index);
      source += escapeRegex(literal);
      literalLength += literal.length;
      // Ditto's JSON-pointer-like params (attributePath, propertyPath, resourcePath, …) span segments.
      // A message subject may have several levels in Ditto too ("ask/question").
      const multi = m[1].endsWith('Path') || m[1] === 'messageSubject';
      if (multi) multiSegmentParams++;
      source += multi ? '.+' : '[^/]+';
      last = m.index + m[0].length;
    }
    const tail = template.slice(last);
    source += escapeRegex(tail);
    literalLength += tail.length;
    return { template, regex: new RegExp(`^${source}$`), literalLength, multiSegmentParams };
  });
  return templatesCache;
}

/** The spec path template that a concrete URL path matches, e.g. '/api/2/things/{thingId}/attributes/{attributePath}'. */
export function matchSpecPath(urlPath: string): string | undefined {
  let path = /^[a-z][a-z0-9+.-]*:\/\//i.test(urlPath) ? new URL(urlPath).pathname : urlPath;
  path = path.replace(/[?#].*$/s, '');
  // Express routes are not strict about a trailing slash (`/api/2/things/` is `/api/2/things`).
  if (path.length > 1 && path.endsWith('/')) path = path.slice(0, -1);
  let best: PathTemplate | undefined;
  for (const candidate of templates()) {
    if (!candidate.regex.test(path)) continue;
    if (
      !best ||
      candidate.literalLength > best.literalLength ||
      (candidate.literalLength === best.literalLength &&
        candidate.multiSegmentParams < best.multiSegmentParams)
    ) {
      best = candidate;
    }
  }
  return best?.template;
}

/** Resolves a local `#/…` JSON pointer (chains of `$ref` included). */
export function resolveRef<T>(node: T | { $ref: string }): T {
  let current: unknown = node;
  for (let hops = 0; isObject(current) && typeof current.$ref === 'string'; hops++) {
    const ref = current.$ref;
    if (!ref.startsWith('#/') || hops > 20) throw new Error(`cannot resolve $ref ${ref}`);
    current = ref
      .slice(2)
      .split('/')
      .map((token) => token.replace(/~1/g, '/').replace(/~0/g, '~'))
      .reduce<unknown>((at, token) => (isObject(at) ? at[token] : undefined), spec());
    if (current === undefined) throw new Error(`dangling $ref ${ref}`);
  }
  return current as T;
}

/** Exact status, else `default`, else the `4XX`-style range. */
function documentedStatusKey(responses: Record<string, unknown>, status: number): string | undefined {
  const exact = String(status);
  if (exact in responses) return exact;
  if ('default' in responses) return 'default';
  const range = Object.keys(responses).find((k) => k.toUpperCase() === `${exact[0]}XX`);
  return range;
}

function header(res: ResponseLike, name: string): string | undefined {
  const entry = Object.entries(res.headers).find(([k]) => k.toLowerCase() === name);
  const value = entry?.[1];
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return value.filter((v) => typeof v === 'string').join(', ');
  return undefined;
}

/** `application/json; charset=utf-8` → `application/json`. */
function mediaTypeOf(contentType: string | undefined): string | undefined {
  const base = contentType?.split(';')[0].trim().toLowerCase();
  return base === '' ? undefined : base;
}

function isJsonMediaType(mediaType: string): boolean {
  return mediaType === 'application/json' || mediaType.endsWith('+json');
}

/** Supertest gives an empty body as `text: ''` and `body: {}`. */
function hasBody(res: ResponseLike, contentType: string | undefined): boolean {
  if (typeof res.text === 'string') return res.text.length > 0;
  if (contentType !== undefined) return true;
  const body = res.body;
  return !(
    body === undefined ||
    body === null ||
    body === '' ||
    (isObject(body) && Object.keys(body).length === 0)
  );
}

/** The JSON value of the body; parses `text` so JSON scalars are seen as sent, not as supertest's `{}`. */
function jsonBody(res: ResponseLike, describe: string): unknown {
  if (typeof res.text !== 'string') return res.body;
  try {
    return JSON.parse(res.text) as unknown;
  } catch (e) {
    throw new Error(`${describe}: body is not valid JSON (${(e as Error).message}): ${truncate(res.text)}`);
  }
}

function truncate(text: string, max = 500): string {
  return text.length > max ? `${text.slice(0, max)}… (${text.length} chars)` : text;
}

/**
 * One validator per distinct schema: most operations share a handful of schemas (AdvancedError above all), and
 * each validator compiles against a fresh Ajv instance with its own copy of the components.
 */
function validatorFor(schema: JsonObject, partial = false): InstanceType<typeof OpenAPIResponseValidator> {
  const key = `${partial}:${JSON.stringify(schema)}`;
  let validator = validatorCache.get(key);
  if (!validator) {
    const customFormats: NonNullable<OpenAPIResponseValidatorArgs['customFormats']> = {};
    for (const [name, check] of Object.entries(FORMATS)) if (check) customFormats[name] = check;
    validator = new OpenAPIResponseValidator({
      // Given as `schema`, not `content`: the library would take the *first* media type listed in `content`
      // (e.g. application/json where the response is application/td+json), not the one the response carries.
      // Registered as `default` so one validator serves every status that documents this schema.
      responses: { default: { schema } },
      // All of components, so `#/components/...` refs resolve against the same document root.
      components: componentsFor(partial),
      customFormats,
    });
    validatorCache.set(key, validator);
  }
  return validator;
}

/**
 * Throws (a readable Error naming method, path template, status and the schema errors) when `res.body` does
 * not match the spec's response schema for that operation and status.
 */
export function expectDittoResponse(method: string, urlPath: string, res: ResponseLike): void {
  const verb = method.toLowerCase();
  const template = matchSpecPath(urlPath);
  let describe = `${verb.toUpperCase()} ${template ?? urlPath} → ${res.status}`;
  if (template === undefined && res.status >= 400) {
    // Not a path of Ditto's API (a mistyped URL): the answer must still be Ditto's error JSON.
    expectAdvancedError(describe, res);
    return;
  }
  if (template === undefined)
    throw new Error(`${describe}: no path in Ditto's OpenAPI spec matches ${urlPath}`);
  describe += ` (request ${urlPath})`;

  const contentType = header(res, 'content-type');
  const mediaType = mediaTypeOf(contentType);
  const bodyPresent = hasBody(res, contentType);
  const bodyPreview = (): string =>
    truncate(typeof res.text === 'string' ? res.text : (JSON.stringify(res.body) ?? String(res.body)));

  // 304 Not Modified never has a body (RFC 9110), whether or not the operation documents it.
  if (res.status === 304) {
    if (bodyPresent)
      throw new Error(`${describe}: a 304 response must not have a body, got ${bodyPreview()}`);
    return;
  }

  const operation = spec().paths[template][verb] as OperationObject | undefined;
  if ((!HTTP_METHODS.has(verb) || operation === undefined) && res.status >= 400) {
    // Ditto has no such operation (e.g. DELETE of the policyId): the refusal must be Ditto's error JSON.
    expectAdvancedError(describe, res);
    return;
  }
  if (!HTTP_METHODS.has(verb) || operation === undefined) {
    throw new Error(`${describe}: Ditto's spec documents no ${verb.toUpperCase()} operation on ${template}`);
  }
  const responses = operation.responses ?? {};
  const statusKey = documentedStatusKey(responses, res.status);
  if (statusKey === undefined && res.status >= 400) {
    // Ditto's spec lists only some error statuses per operation (no 413 or 415 on most), yet every
    // error Ditto sends has the same shape: hold undocumented ones to the AdvancedError schema.
    expectAdvancedError(describe, res);
    return;
  }
  if (statusKey === undefined) {
    throw new Error(
      `${describe}: status ${res.status} is not documented for this operation (documented: ${Object.keys(responses).join(', ')})`,
    );
  }
  const documented = resolveRef<ResponseObject>(responses[statusKey]);
  const content = documented.content ?? {};
  const documentedTypes = Object.keys(content);

  if (documentedTypes.length === 0) {
    // No `content` documents no payload. For 204 (and HEAD) HTTP forbids one, so the body must be empty.
    // Elsewhere Ditto's spec leaves `content` out where the payload is arbitrary JSON (GET/PUT of a single
    // attribute or property returns the bare value), so there is no schema to check a body against.
    if ((res.status === 204 || verb === 'head') && bodyPresent) {
      throw new Error(
        `${describe}: the spec documents no content, but the response has a body: ${bodyPreview()}`,
      );
    }
    return;
  }

  if (!bodyPresent) {
    throw new Error(
      `${describe}: the spec documents a ${documentedTypes.join(' or ')} body, but the response has none`,
    );
  }
  if (mediaType === undefined) {
    throw new Error(
      `${describe}: the response has a body but no Content-Type (documented: ${documentedTypes.join(', ')})`,
    );
  }
  const documentedType = documentedTypes.find((t) => t.toLowerCase() === mediaType);
  if (documentedType === undefined) {
    throw new Error(
      `${describe}: Content-Type ${mediaType} is not documented (documented: ${documentedTypes.join(', ')})`,
    );
  }
  const schema = content[documentedType].schema;
  // Only JSON payloads are checked against schemas (non-JSON ones, e.g. text/plain, only by media type).
  if (!isJsonMediaType(mediaType) || schema === undefined) return;

  // Cloned: the library's Ajv runs with `useDefaults`, which would write schema defaults into the caller's body.
  const value = structuredClone(jsonBody(res, describe));
  const result = validatorFor(schema, selectsFields(urlPath)).validateResponse('default', value) as
    { message: string; errors?: { path?: string; message: string }[] } | undefined;
  if (result) {
    const errors = (result.errors ?? []).map((e) => {
      const at = !e.path || e.path === 'response' ? '(root)' : e.path;
      return `  - ${at}: ${e.message}`;
    });
    throw new Error(
      `${describe}: the ${documentedType} body does not match Ditto's spec (response '${statusKey}'):\n` +
        `${errors.join('\n')}\nbody: ${truncate(JSON.stringify(value) ?? String(value))}`,
    );
  }
}

function expectAdvancedError(describe: string, res: ResponseLike): void {
  const schemas = spec().components.schemas as JsonObject | undefined;
  const schema = schemas?.AdvancedError as JsonObject | undefined;
  if (!schema) throw new Error("Ditto's spec has no AdvancedError schema");
  const value = structuredClone(jsonBody(res, describe));
  const result = validatorFor(schema).validateResponse('default', value) as
    { errors?: { path?: string; message: string }[] } | undefined;
  if (result) {
    const errors = (result.errors ?? []).map((e) => `  - ${e.path ?? '(root)'}: ${e.message}`);
    throw new Error(`${describe}: the error body is not Ditto's error JSON:\n${errors.join('\n')}`);
  }
}
