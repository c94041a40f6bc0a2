import { DomainError } from '../../common/domain-error.js';
import { Errors } from '../../common/errors.js';
import {
  validateFeatureDefinition,
  validateFeatureId,
  validateJsonKeys,
  validatePointerKeys,
  validateThingDefinition,
} from './identifiers.js';
import { hasKey, isJsonObject, toPointer, type JsonObject } from './json-pointer.js';
import { parsePolicyId, parseThingId } from './thing-id.js';

export interface FeatureBody {
  definition?: string[];
  properties?: JsonObject;
  desiredProperties?: JsonObject;
}

/** A validated Thing as a client sent it; `_policy` and `_copyPolicyFrom` are checked but dropped. */
export interface ThingBody {
  thingId?: string;
  policyId?: string;
  definition?: string | null;
  attributes?: JsonObject;
  features?: Record<string, FeatureBody>;
}

export type PathKind =
  | 'thing'
  | 'policyId'
  | 'definition'
  | 'attributes'
  | 'attribute'
  | 'features'
  | 'feature'
  | 'featureDefinition'
  | 'properties'
  | 'property'
  | 'desiredProperties'
  | 'desiredProperty';

export interface PathClass {
  kind: PathKind;
  /** Set for every kind at or below a single feature. */
  featureId?: string;
}

const READ_ONLY_FIELDS = new Set([
  '_revision',
  '_created',
  '_modified',
  '_namespace',
  '_metadata',
  '_context',
]);
const THING_FIELDS = new Set([
  'thingId',
  'policyId',
  'definition',
  'attributes',
  'features',
  '_policy',
  '_copyPolicyFrom',
]);
const FEATURE_FIELDS = new Set(['definition', 'properties', 'desiredProperties']);

const NOT_FOUND_CODES: Record<PathKind, string> = {
  thing: 'things:thing.notfound',
  policyId: 'things:policyId.notfound',
  definition: 'things:definition.notfound',
  attributes: 'things:attributes.notfound',
  attribute: 'things:attribute.notfound',
  features: 'things:features.notfound',
  feature: 'things:feature.notfound',
  featureDefinition: 'things:feature.definition.notfound',
  properties: 'things:feature.properties.notfound',
  property: 'things:feature.property.notfound',
  desiredProperties: 'things:feature.desiredProperties.notfound',
  desiredProperty: 'things:feature.desiredProperty.notfound',
};

/** Ditto's error code for a missing resource of this kind. */
export function notFoundCodeFor(kind: PathKind): string {
  return NOT_FOUND_CODES[kind];
}

/**
 * Which resource of a Thing a path (relative to the Thing) addresses. Paths that are no
 * resource at all (`/thingId`, `/features/f/foo`, `/policyId/x`) get a 404 as an unknown
 * route would; invalid keys get `json.key.invalid`.
 */
export function classifyPath(segments: readonly string[]): PathClass {
  if (segments.some((s) => s === '')) throw Errors.pointerInvalid(toPointer(segments));
  const [root, ...rest] = segments;
  switch (root) {
    case undefined:
      return { kind: 'thing' };
    case 'policyId':
    case 'definition':
      if (rest.length === 0) return { kind: root };
      break;
    case 'attributes':
      validatePointerKeys(rest);
      return { kind: rest.length === 0 ? 'attributes' : 'attribute' };
    case 'features':
      return rest.length === 0 ? { kind: 'features' } : classifyFeaturePath(segments, rest);
  }
  throw Errors.notFoundRoute(toPointer(segments));
}

function classifyFeaturePath(segments: readonly string[], rest: readonly string[]): PathClass {
  const [featureId, part, ...sub] = rest;
  validateFeatureId(featureId);
  if (part === undefined) return { kind: 'feature', featureId };
  if (part === 'definition' && sub.length === 0) return { kind: 'featureDefinition', featureId };
  if (part === 'properties' || part === 'desiredProperties') {
    validatePointerKeys(sub);
    const kind = part === 'properties' ? 'property' : 'desiredProperty';
    return { kind: sub.length === 0 ? part : kind, featureId };
  }
  throw Errors.notFoundRoute(toPointer(segments));
}

/**
 * Checks a PUT at a path of a Thing: that the path is a resource and that the value fits it.
 * Values of single attributes and properties may be any JSON; their object keys are checked.
 */
export function validateValueAt(segments: readonly string[], value: unknown): void {
  const { kind, featureId } = classifyPath(segments);
  if (value === undefined) throw Errors.jsonInvalid('The request must contain a JSON value.');
  switch (kind) {
    case 'thing':
      validateThingBody(value, {});
      return;
    case 'policyId':
      validatePolicyId(value);
      return;
    case 'definition':
      validateThingDefinition(value);
      return;
    case 'attributes':
      requireObject(value, 'The Attributes');
      validateJsonKeys(value);
      return;
    case 'features':
      validateFeatures(value);
      return;
    case 'feature':
      validateFeature(featureId as string, value);
      return;
    case 'featureDefinition':
      validateFeatureDefinition(value);
      return;
    case 'properties':
    case 'desiredProperties':
      requireObject(value, `The ${kind === 'properties' ? 'Properties' : 'Desired Properties'} of a Feature`);
      validateJsonKeys(value);
      return;
    case 'attribute':
    case 'property':
    case 'desiredProperty':
      validateJsonKeys(value);
      return;
  }
}

/**
 * Checks the body of `PUT /things/{id}` or `POST /things`. `opts.thingId` is the ID from the
 * URI; a `thingId` in the body must equal it.
 */
export function validateThingBody(body: unknown, opts: { thingId?: string } = {}): ThingBody {
  const thing = requireObject(body, 'The Thing');
  for (const key of Object.keys(thing)) {
    if (READ_ONLY_FIELDS.has(key)) {
      throw Errors.thingInvalid(
        `The field '${key}' is read-only and cannot be set.`,
        `Remove '${key}' from the request body; system fields are maintained by the platform.`,
      );
    }
    if (!THING_FIELDS.has(key)) {
      throw Errors.thingInvalid(
        `The field '${key}' is not a valid field of a Thing.`,
        `Allowed fields are: ${[...THING_FIELDS].join(', ')}.`,
      );
    }
  }
  const out: ThingBody = {};
  if (hasKey(thing, 'thingId')) out.thingId = validateBodyThingId(thing.thingId, opts.thingId);
  if (hasKey(thing, 'policyId')) out.policyId = validatePolicyId(thing.policyId);
  if (hasKey(thing, 'definition')) out.definition = validateThingDefinition(thing.definition);
  if (hasKey(thing, 'attributes')) {
    const attributes = requireObject(thing.attributes, 'The Attributes');
    validateJsonKeys(attributes);
    out.attributes = attributes;
  }
  if (hasKey(thing, 'features')) out.features = validateFeatures(thing.features);
  validateInlinePolicy(thing);
  return out;
}

/** A Feature value: an object with only `definition`, `properties` and `desiredProperties`. */
export function validateFeature(featureId: string, value: unknown): FeatureBody {
  validateFeatureId(featureId);
  const feature = requireObject(value, `The Feature '${featureId}'`);
  for (const key of Object.keys(feature)) {
    if (!FEATURE_FIELDS.has(key)) {
      throw Errors.thingInvalid(
        `The field '${key}' of the Feature '${featureId}' is not a valid field of a Feature.`,
        `Allowed fields are: ${[...FEATURE_FIELDS].join(', ')}.`,
      );
    }
  }
  const out: FeatureBody = {};
  if (hasKey(feature, 'definition')) out.definition = validateFeatureDefinition(feature.definition);
  for (const part of ['properties', 'desiredProperties'] as const) {
    if (!hasKey(feature, part)) continue;
    const name = part === 'properties' ? 'Properties' : 'Desired Properties';
    const obj = requireObject(feature[part], `The ${name} of the Feature '${featureId}'`);
    validateJsonKeys(obj);
    out[part] = obj;
  }
  return out;
}

function validateFeatures(value: unknown): Record<string, FeatureBody> {
  const features = requireObject(value, 'The Features');
  for (const [featureId, feature] of Object.entries(features)) validateFeature(featureId, feature);
  return features as Record<string, FeatureBody>;
}

function validateBodyThingId(value: unknown, uriThingId: string | undefined): string {
  if (typeof value !== 'string') throw Errors.thingIdInvalid(JSON.stringify(value));
  parseThingId(value);
  if (uriThingId !== undefined && value !== uriThingId) throw Errors.thingIdNotSettable(value, uriThingId);
  return value;
}

function validatePolicyId(value: unknown): string {
  if (typeof value !== 'string') throw Errors.policyIdInvalid(JSON.stringify(value));
  parsePolicyId(value);
  return value;
}

/** Policies are not enforced yet, but a malformed inline policy is still the client's error. */
function validateInlinePolicy(body: JsonObject): void {
  if (hasKey(body, '_policy')) requireObject(body._policy, "The inline policy '_policy'");
  if (hasKey(body, '_copyPolicyFrom') && typeof body._copyPolicyFrom !== 'string') {
    throw Errors.thingInvalid(
      "The field '_copyPolicyFrom' must be a string: a Policy ID or {{ ref:things/<thingId>/policyId }}.",
    );
  }
  if (hasKey(body, '_policy') && hasKey(body, '_copyPolicyFrom')) {
    throw new DomainError(
      400,
      'things:policy.conflicting',
      "The Thing could not be created because it contained both '_policy' and '_copyPolicyFrom'.",
      'Give either an inline policy or a policy to copy from, not both.',
    );
  }
}

function requireObject(value: unknown, what: string): JsonObject {
  if (!isJsonObject(value)) {
    throw Errors.thingInvalid(`${what} must be a JSON object but was <${describe(value)}>.`);
  }
  return value;
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  const text = JSON.stringify(value);
  return text.length > 100 ? `${text.slice(0, 100)}…` : text;
}
