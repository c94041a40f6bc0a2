/**
 * Checks Ditto Protocol messages the suite receives against Eclipse Ditto's own JSON schemas
 * (vendored at test/fixtures/ditto-protocol), as openapi.ts does for HTTP: the WebSocket side of
 * our compatibility is judged by Ditto's contract, not by our reading of it.
 *
 * Validation is Ajv (the schemas are draft-04); this file only picks which schemas apply to a
 * message, from its topic, and words the failures.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import AjvDraft04Module from 'ajv-draft-04';
import addFormatsModule from 'ajv-formats';
import type { ValidateFunction } from 'ajv';

/** Both packages are CommonJS with `exports.default`; from ESM the function sits on `.default`. */
const AjvDraft04 = AjvDraft04Module.default;
const addFormats = addFormatsModule.default;

type Schema = Record<string, unknown>;

function schema(name: string): Schema {
  const file = fileURLToPath(new URL(`../fixtures/ditto-protocol/${name}.json`, import.meta.url));
  return JSON.parse(readFileSync(file, 'utf8')) as Schema;
}

const ajv = new AjvDraft04({ allErrors: true, strict: false });
addFormats(ajv);

// feature_v2.json says `"required": []`, which draft-04 itself forbids (at least one name).
const { required: _none, $schema: _draft, ...feature } = schema('feature_v2');
const thingSchema = schema('thing_v2');
// thing_v2.json nests one level too deep under `features` (each feature's members would have to be
// objects, so a feature's `definition` array could never pass); its own feature_v2.json is right.
const thing = {
  ...thingSchema,
  properties: {
    ...(thingSchema.properties as Schema),
    features: { type: 'object', additionalProperties: feature },
  },
};

/** A value at path "/" may be cut by `fields`: the members are checked, not that all are present. */
function anyPart(s: Schema): Schema {
  const { required: _required, ...rest } = s;
  return rest;
}

const validators = {
  envelope: ajv.compile(schema('protocol-envelope')),
  response: ajv.compile(schema('protocol-response')),
  errorResponse: ajv.compile(schema('protocol-error_response')),
  error: ajv.compile(schema('error')),
  ack: ajv.compile(schema('protocol-ack')),
  acks: ajv.compile(schema('protocol-acks')),
  announcement: ajv.compile(schema('protocol-announcement')),
  searchNext: ajv.compile(schema('protocol-search-next-payload')),
  searchFailed: ajv.compile(schema('protocol-search-failed-payload')),
  searchId: ajv.compile(schema('protocol-search-subscriptionid')),
  streamNext: ajv.compile(schema('protocol-streaming-subscription-next-payload')),
  streamFailed: ajv.compile(schema('protocol-streaming-subscription-failed-payload')),
  streamId: ajv.compile(schema('protocol-streaming-subscriptionid')),
  thing: ajv.compile(anyPart(thing)),
  feature: ajv.compile(feature),
  policy: ajv.compile(anyPart(schema('policy'))),
} satisfies Record<string, ValidateFunction>;

type Name = keyof typeof validators;

interface Message {
  topic?: unknown;
  path?: unknown;
  value?: unknown;
  status?: unknown;
}

/** The value's schema of each action of the search and streaming subscription protocols. */
const PAYLOADS: Partial<Record<string, Partial<Record<string, Name>>>> = {
  search: {
    next: 'searchNext',
    failed: 'searchFailed',
    created: 'searchId',
    complete: 'searchId',
    request: 'searchId',
    cancel: 'searchId',
  },
  streaming: {
    next: 'streamNext',
    failed: 'streamFailed',
    created: 'streamId',
    complete: 'streamId',
    request: 'streamId',
    cancel: 'streamId',
  },
};

/** Which schemas apply: the message's own, then its value's, as Ditto's topic grammar says. */
function checksFor(message: Message): { name: Name; of: 'message' | 'value' }[] {
  const checks: { name: Name; of: 'message' | 'value' }[] = [{ name: 'envelope', of: 'message' }];
  if (typeof message.topic !== 'string') return checks;
  // {namespace}/{name}/{group}/{channel}/{criterion}/{action…}; policies have no channel.
  const parts = message.topic.split('/');
  const group = parts[2];
  const rest = group === 'policies' ? parts.slice(3) : parts.slice(4);
  const [criterion, action] = rest;
  const isResponse = typeof message.status === 'number';
  if (criterion === 'errors') {
    checks.push({ name: 'errorResponse', of: 'message' }, { name: 'error', of: 'value' });
    return checks;
  }
  if (criterion === 'acks') {
    checks.push({ name: action === undefined ? 'acks' : 'ack', of: 'message' });
    return checks;
  }
  if (criterion === 'announcements') checks.push({ name: 'announcement', of: 'message' });
  const payload = criterion === undefined || action === undefined ? undefined : PAYLOADS[criterion]?.[action];
  if (payload) checks.push({ name: payload, of: 'value' });
  if (isResponse && criterion === 'commands') checks.push({ name: 'response', of: 'message' });
  if ((criterion === 'commands' || criterion === 'events') && message.value !== undefined) {
    const path = typeof message.path === 'string' ? message.path : '';
    const whole = action !== 'merge' && action !== 'merged';
    if (whole && group === 'things' && path === '/') checks.push({ name: 'thing', of: 'value' });
    if (whole && group === 'things' && /^\/features\/[^/]+$/.test(path))
      checks.push({ name: 'feature', of: 'value' });
    if (whole && group === 'policies' && path === '/') checks.push({ name: 'policy', of: 'value' });
  }
  return checks;
}

/**
 * What in a received Ditto Protocol message breaks Ditto's schemas, one line per failure
 * (empty when it conforms). Commands we send are not checked: only what the platform says.
 */
export function protocolViolations(message: unknown): string[] {
  if (typeof message !== 'object' || message === null) return ['not a JSON object'];
  const m = message as Message;
  const problems: string[] = [];
  for (const { name, of } of checksFor(m)) {
    const validate = validators[name];
    const subject = of === 'message' ? m : m.value;
    if (validate(subject)) continue;
    for (const e of validate.errors ?? [])
      problems.push(
        `${String(m.topic)} ${String(m.path)}: ${name} schema, ${of}${e.instancePath} ${e.message ?? ''}`,
      );
  }
  return problems;
}

/**
 * What in an SSE event of a thing stream (`/api/2/things`, `/api/2/things/{id}`) breaks Ditto's
 * thing schema; the thing may be cut to the changed parts or to `fields`, as Ditto's are.
 */
export function sseThingViolations(url: string, data: string): string[] {
  const validate = validators.thing;
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch {
    return [`${url}: an event whose data is not JSON`];
  }
  if (validate(value)) return [];
  return (validate.errors ?? []).map((e) => `${url}: thing schema, data${e.instancePath} ${e.message ?? ''}`);
}
