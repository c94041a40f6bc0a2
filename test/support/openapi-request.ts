/**
 * Validates HTTP requests a Ditto client sends (our Ditto sync, in its e2e tests) against Ditto's own
 * OpenAPI description, as test/support/openapi.ts does for responses: the operation must exist, and
 * its query, headers and body must match. Validation is openapi-request-validator (Ajv underneath).
 */
import OpenAPIRequestValidatorModule from 'openapi-request-validator';
import type { OpenAPIV3 } from 'openapi-types';
import { FORMATS, matchSpecPath, resolveRef, spec } from './openapi.js';

/** CommonJS with `exports.default`: imported from ESM, the class sits on `.default`. */
const OpenAPIRequestValidator = OpenAPIRequestValidatorModule.default;

export interface RequestLike {
  method: string;
  /** Path and query as sent, e.g. /api/2/things/a:b?fields=thingId */
  url: string;
  headers: Record<string, string | string[] | undefined>;
  /** The raw body, '' for none. */
  body: string;
}

const cache = new Map<string, InstanceType<typeof OpenAPIRequestValidator>>();

function validatorFor(template: string, verb: string): InstanceType<typeof OpenAPIRequestValidator> | null {
  const key = `${verb} ${template}`;
  const cached = cache.get(key);
  if (cached) return cached;
  const item = spec().paths[template];
  const operation = item[verb] as OpenAPIV3.OperationObject | undefined;
  if (!operation) return null;
  // Path parameters are checked by the template match; Ditto's `…Path` ones span segments.
  const parameters = [...((item.parameters as unknown[]) ?? []), ...(operation.parameters ?? [])]
    .map((p) => resolveRef<OpenAPIV3.ParameterObject>(p as OpenAPIV3.ParameterObject))
    .filter((p) => p.in !== 'path');
  const requestBody = operation.requestBody ? bodyErrata(operation.requestBody) : undefined;
  const customFormats: Record<string, (v: string) => boolean> = {};
  for (const [name, check] of Object.entries(FORMATS)) if (check) customFormats[name] = check;
  const validator = new OpenAPIRequestValidator({
    parameters: parameters,
    requestBody,
    componentSchemas: (spec().components as { schemas: Record<string, never> }).schemas as never,
    customFormats,
    logger: { debug() {}, info() {}, warn() {}, error() {}, trace() {} },
  });
  cache.set(key, validator);
  return validator;
}

/**
 * Erratum: the shared `Value` and `PatchValue` request bodies (attribute and property values) say
 * in their own description that any JSON value is allowed (`42`, `"aString"`, `null`), and Ditto
 * accepts them, but their schema says `type: object`. We follow the description.
 */
function bodyErrata(
  ref: OpenAPIV3.RequestBodyObject | OpenAPIV3.ReferenceObject,
): OpenAPIV3.RequestBodyObject {
  const body = resolveRef<OpenAPIV3.RequestBodyObject>(ref);
  const name = '$ref' in ref ? ref.$ref.split('/').pop() : undefined;
  if (name !== 'Value' && name !== 'PatchValue') return body;
  const content = Object.fromEntries(
    Object.entries(body.content).map(([type, media]) => [type, { ...media, schema: {} }]),
  );
  return { ...body, content };
}

/** Throws a readable Error when the request is not one Ditto's API documents. */
export function expectDittoRequest(req: RequestLike): void {
  const verb = req.method.toLowerCase();
  const url = new URL(req.url, 'http://ditto');
  const template = matchSpecPath(url.pathname);
  const describe = `${req.method} ${req.url}`;
  if (!template) throw new Error(`${describe}: no path in Ditto's OpenAPI spec matches`);
  const validator = validatorFor(template, verb);
  if (!validator) throw new Error(`${describe}: Ditto documents no ${req.method} on ${template}`);
  let body: unknown;
  if (req.body !== '') {
    try {
      body = JSON.parse(req.body);
    } catch {
      throw new Error(`${describe}: the body is not JSON: ${req.body.slice(0, 200)}`);
    }
  }
  const headers = Object.fromEntries(
    Object.entries(req.headers).map(([k, v]) => [k.toLowerCase(), Array.isArray(v) ? v.join(', ') : v]),
  );
  const result = validator.validateRequest({
    headers,
    body,
    query: Object.fromEntries(url.searchParams),
    params: {},
  }) as { errors?: { path?: string; message: string; location?: string }[] } | undefined;
  if (result?.errors?.length) {
    const lines = result.errors.map((e) => `  ${e.location ?? ''} ${e.path ?? ''}: ${e.message}`);
    throw new Error(`${describe} (${template}) breaks Ditto's spec:\n${lines.join('\n')}`);
  }
}
