import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { Request } from 'express';
import { Errors } from './errors.js';
import { unstorableJson } from './text.js';

const MERGE_PATCH = 'application/merge-patch+json';
const JSON_TYPES = ['application/json', 'application/*+json'];

function mediaType(req: Request): string | undefined {
  return req.header('content-type')?.split(';')[0].trim().toLowerCase() || undefined;
}

function isJsonType(type: string): boolean {
  return type === 'application/json' || /^application\/[\w.-]+\+json$/.test(type);
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });

function rawText(req: Request, limit: number): string | undefined {
  if (req.rawBodyTooLarge !== undefined) throw Errors.tooLarge(req.rawBodyTooLarge, limit);
  if (!req.rawBody || req.rawBody.length === 0) return undefined;
  try {
    // Decoding leniently would store U+FFFD in place of what the client sent.
    return UTF8.decode(req.rawBody);
  } catch {
    throw Errors.jsonInvalid('The request body is not valid UTF-8.', 'Send the body encoded as UTF-8.');
  }
}

/** Deeper documents are legal JSON but would overflow the stack when serialised again. */
const MAX_DEPTH = 100;

function parseJson(text: string): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw Errors.jsonInvalid(
      `Failed to parse JSON string '${text.slice(0, 200)}': ${(err as Error).message}`,
    );
  }
  if (depth(value) > MAX_DEPTH) {
    throw Errors.jsonInvalid(`The JSON is nested deeper than ${MAX_DEPTH} levels.`);
  }
  const unstorable = unstorableJson(value);
  if (unstorable !== undefined) {
    throw Errors.jsonInvalid(
      `The JSON contains ${unstorable}, which cannot be stored as sent.`,
      'Remove NUL characters and unpaired surrogates from strings and keys; numbers must be finite.',
    );
  }
  return value;
}

function depth(value: unknown): number {
  let max = 0;
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [v, d] = stack.pop()!;
    if (d > max) max = d;
    if (d > MAX_DEPTH) break;
    if (v !== null && typeof v === 'object') for (const child of Object.values(v)) stack.push([child, d + 1]);
  }
  return max;
}

export interface BodyOptions {
  /** Without a body: throw (true) or pass undefined (false). */
  required: boolean;
  mergePatch?: boolean;
  limit: number;
}

/** Reads the request body as JSON (or a merge patch), enforcing Ditto's media types and limits. */
export function readJsonBody(req: Request, opts: BodyOptions): unknown {
  const type = mediaType(req);
  if (opts.mergePatch) {
    if (type !== MERGE_PATCH) throw Errors.mediaTypeUnsupported(type, [MERGE_PATCH]);
  } else if (type !== undefined && !isJsonType(type)) {
    throw Errors.mediaTypeUnsupported(type, JSON_TYPES);
  }
  const text = rawText(req, opts.limit);
  if (text === undefined || text.trim() === '') {
    if (opts.required) throw Errors.jsonInvalid('The request body must contain a JSON value but was empty.');
    return undefined;
  }
  return parseJson(text);
}

/** Parameters of a form-POST (search) merged over the query string. */
export function readFormOrQuery(req: Request, limit: number): Record<string, string> {
  const params: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.query)) if (typeof v === 'string') params[k] = v;
  if (req.method !== 'POST') return params;
  const type = mediaType(req);
  const text = rawText(req, limit);
  if (text === undefined) return params;
  if (type !== 'application/x-www-form-urlencoded') {
    throw Errors.mediaTypeUnsupported(type, ['application/x-www-form-urlencoded']);
  }
  for (const [k, v] of new URLSearchParams(text)) params[k] = v;
  return params;
}

function limitOf(req: Request): number {
  return req.rawBodyLimit ?? 100 * 1024;
}

export const JsonBody = createParamDecorator((required: boolean | undefined, ctx: ExecutionContext) => {
  const req = ctx.switchToHttp().getRequest<Request>();
  return readJsonBody(req, { required: required !== false, limit: limitOf(req) });
});

export const MergePatchBody = createParamDecorator((_: unknown, ctx: ExecutionContext) => {
  const req = ctx.switchToHttp().getRequest<Request>();
  return readJsonBody(req, { required: true, mergePatch: true, limit: limitOf(req) });
});

export const FormOrQuery = createParamDecorator((_: unknown, ctx: ExecutionContext) => {
  const req = ctx.switchToHttp().getRequest<Request>();
  return readFormOrQuery(req, limitOf(req));
});
