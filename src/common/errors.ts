import { DomainError } from './domain-error.js';

const ID_RULES =
  'It must conform to the namespaced entity ID notation (see Ditto documentation): ' +
  '<namespace>:<name>, at most 256 characters.';

/** The catalogue of errors the platform raises; codes and statuses follow Ditto's. */
export const Errors = {
  thingNotFound: (thingId: string) =>
    new DomainError(
      404,
      'things:thing.notfound',
      `The Thing with ID '${thingId}' could not be found or requester had insufficient permissions to access it.`,
      'Check if the ID of your requested Thing was correct and you have sufficient permissions.',
    ),
  resourceNotFound: (code: string, thingId: string, what: string) =>
    new DomainError(
      404,
      code,
      `The ${what} of the Thing with ID '${thingId}' does not exist or the requester had insufficient permissions to access it.`,
      'Check if the ID of the Thing and the path of the requested resource were correct.',
    ),
  thingIdInvalid: (thingId: string) =>
    new DomainError(400, 'things:id.invalid', `Thing ID '${thingId}' is not valid!`, ID_RULES),
  thingIdNotSettable: (bodyId: string, pathId: string) =>
    new DomainError(
      400,
      'things:id.notsettable',
      `The Thing ID in the request body ('${bodyId}') does not match the one in the URI ('${pathId}').`,
      'Leave the thingId out of the body or make it equal to the one in the URI.',
    ),
  policyIdInvalid: (policyId: string) =>
    new DomainError(400, 'policies:id.invalid', `Policy ID '${policyId}' is not valid!`, ID_RULES),
  policyIdNotDeletable: (thingId: string) =>
    new DomainError(
      400,
      'things:policyId.notdeletable',
      `The Policy ID of the Thing with ID '${thingId}' cannot be deleted.`,
      'A Thing always references a Policy; set another policyId instead.',
    ),
  thingIdNotDeletable: () =>
    new DomainError(
      400,
      'things:id.notdeletable',
      'The Thing ID cannot be deleted.',
      'Delete the Thing instead.',
    ),
  thingInvalid: (
    message: string,
    description = 'Check the structure of the Thing (see Ditto documentation).',
  ) => new DomainError(400, 'json.invalid', message, description),
  definitionInvalid: (value: unknown) =>
    new DomainError(
      400,
      'things:definition.identifier.invalid',
      `Definition identifier <${JSON.stringify(value)}> is invalid!`,
      "A definition is 'namespace:name:version' or an http(s) URL.",
    ),
  featureDefinitionEmpty: () =>
    new DomainError(
      400,
      'things:feature.definition.empty',
      'Feature Definition must not be empty!',
      'Provide at least one definition identifier.',
    ),
  tooLarge: (size: number, max: number) =>
    new DomainError(
      413,
      'things:thing.toolarge',
      `The size of '${Math.ceil(size / 1024)}' kB exceeds the maximal allowed Thing size of '${Math.floor(max / 1024)}' kB.`,
      'Reduce the size of the Thing or of the request.',
    ),
  conflict: (thingId: string) =>
    new DomainError(
      409,
      'things:thing.conflict',
      `The Thing with ID '${thingId}' already exists`,
      'Choose another Thing ID.',
    ),
  preconditionFailed: (header: string, value: string) =>
    new DomainError(
      412,
      'things:precondition.failed',
      `The comparison of precondition header '${header}' for the requested Thing resource evaluated to false. Header value: '${value}'.`,
      `The comparison of the provided precondition header '${header}' with the current ETag value of the requested Thing resource evaluated to false. Check the value of your conditional header value.`,
    ),
  notModified: (header: string, value: string, etag: string) =>
    new DomainError(
      304,
      'things:precondition.notmodified',
      `The comparison of precondition header '${header}' for the requested Thing resource evaluated to false. Expected: '${value}' not to match actual: '${etag}'.`,
      undefined,
      { ETag: etag },
    ),
  queryTimeExceeded: () =>
    new DomainError(
      408,
      'thing-search:query.time.exceeded',
      'The query took too long and was stopped.',
      'Narrow the filter (fewer values, a namespace, indexed fields) or the time range, and try again.',
    ),
  jsonInvalid: (
    message: string,
    description = 'Check if the JSON was valid (e.g. on https://jsonlint.com).',
  ) => new DomainError(400, 'json.invalid', message, description),
  pointerInvalid: (pointer: string) =>
    new DomainError(
      400,
      'json.pointer.invalid',
      `JSON pointer <${pointer}> is invalid!`,
      'A JSON pointer consists of non-empty segments separated by single slashes.',
    ),
  mediaTypeUnsupported: (got: string | undefined, allowed: string[]) =>
    new DomainError(
      415,
      'mediatype.unsupported',
      `The Media-Type <${got ?? 'none'}> is not supported for this resource.`,
      `Allowed Media-Types are: <${allowed.join(', ')}>.`,
    ),
  fieldSelectionInvalid: (fields: string, why: string) =>
    new DomainError(
      400,
      'things:field.selection.invalid',
      `The field selection <${fields}> is invalid: ${why}`,
      'Use a comma separated list of JSON pointers, optionally grouped with parentheses, e.g. thingId,attributes(a,b).',
    ),
  rqlInvalid: (message: string) =>
    new DomainError(
      400,
      'rql.expression.invalid',
      message,
      'Check the RQL syntax (https://www.eclipse.dev/ditto/basic-rql.html).',
    ),
  searchOptionInvalid: (message: string) =>
    new DomainError(
      400,
      'thing-search:search.option.invalid',
      message,
      'Check the option syntax: sort(+a,-b),size(n),cursor(c); size at most 200.',
    ),
  namespacesInvalid: (message: string) =>
    new DomainError(
      400,
      'thing-search:search.namespaces.invalid',
      message,
      'Give a comma separated list of valid namespaces.',
    ),
  thingIdsMissing: () =>
    new DomainError(
      400,
      'things:things.ids.missing',
      "The required query parameter 'ids' was missing or empty.",
      'Give a comma separated list of Thing IDs, or use the search API.',
    ),
  methodNotAllowed: (method: string, path: string) =>
    new DomainError(
      405,
      'gateway:method.notallowed',
      `The provided HTTP method '${method}' is not allowed on resource '${path}'.`,
      'Check the API documentation for the methods this resource supports.',
    ),
  notFoundRoute: (path: string) =>
    new DomainError(
      404,
      'gateway:resource.notfound',
      `The requested resource '${path}' could not be found.`,
      'Check the path; the API lives under /api/2.',
    ),
  headerInvalid: (name: string, value: string, expected: string) =>
    new DomainError(
      400,
      'header.invalid',
      `The value '${value}' of the header '${name}' is not valid.`,
      `It must be ${expected}.`,
    ),
  conditionFailed: (condition: string) =>
    new DomainError(
      412,
      'things:condition.failed',
      `The specified condition '${condition}' does not match the state of the requested Thing.`,
      'Check the condition or the current state of the Thing.',
    ),
  /** The description says why (never with the credentials); the challenge names the scheme that failed. */
  authenticationFailed: (
    description = 'Send the credentials of a user (Authorization: Basic) or a valid JWT (Authorization: Bearer).',
    challenge = 'Basic realm="ditto"',
  ) =>
    new DomainError(
      401,
      'gateway:authentication.failed',
      'The request could not be authenticated.',
      description,
      {
        'WWW-Authenticate': challenge,
      },
    ),
  authenticationRateLimited: (retryAfterSeconds: number) =>
    new DomainError(
      429,
      'gateway:too.many.requests',
      'Too many failed authentications from this address.',
      `Wait ${retryAfterSeconds} s before trying again, with valid credentials.`,
      { 'Retry-After': String(retryAfterSeconds) },
    ),
};

/**
 * Ditto's policy errors. Not-found and not-modifiable pick the code of the addressed level of the
 * policy (`policies:entry.notfound`, `policies:subject.notmodifiable`, …) from the path inside it.
 */
export const PolicyErrors = {
  notFound: (policyId: string, path: readonly string[]) => {
    const { code, what } = policyLevel(path, policyId);
    return new DomainError(
      404,
      `policies:${code}.notfound`,
      `${what} could not be found or requester had insufficient permissions to access it.`,
      'Check if the ID of the Policy and the path of the requested resource were correct and you have sufficient permissions.',
    );
  },
  notModifiable: (policyId: string, path: readonly string[]) => {
    const { code, what } = policyLevel(path, policyId);
    return new DomainError(
      403,
      `policies:${code}.notmodifiable`,
      `${what} could not be modified as the requester had insufficient permissions to modify it ('WRITE' is required).`,
      'Check if the ID of the Policy and the path of the resource were correct and you have sufficient permissions.',
    );
  },
  notCreatable: (policyId: string) =>
    new DomainError(
      403,
      'policies:policy.notcreatable',
      `The Policy with ID '${policyId}' could not be created as the requester would have no unrestricted 'WRITE' permission on 'policy:/' of it.`,
      "Grant yourself 'WRITE' on 'policy:/' or set the query parameter 'allow-policy-lockout=true'.",
    ),
  /** The sanity rule: a policy without imports keeps someone who can change it. */
  modificationInvalid: (policyId: string, label?: string) =>
    new DomainError(
      403,
      label === undefined ? 'policies:policy.modificationinvalid' : 'policies:entry.modificationinvalid',
      label === undefined
        ? `The Policy with ID '${policyId}' could not be modified as the resulting Policy would be invalid.`
        : `The PolicyEntry with Label '${label}' on the Policy with ID '${policyId}' could not be modified as the resulting Policy would be invalid.`,
      "There must always be at least one PolicyEntry with 'WRITE' permissions on resource 'policy:/'.",
    ),
  conflict: (policyId: string) =>
    new DomainError(
      409,
      'policies:policy.conflict',
      `The Policy with ID '${policyId}' already exists`,
      'Choose another Policy ID.',
    ),
  idNotSettable: (bodyId: string, pathId: string) =>
    new DomainError(
      400,
      'policies:id.notsettable',
      `The Policy ID in the request body ('${bodyId}') does not match the one in the URI ('${pathId}').`,
      'Leave the policyId out of the body or make it equal to the one in the URI.',
    ),
  entryInvalid: (message: string) =>
    new DomainError(
      400,
      'policies:entry.invalid',
      message,
      'A policy entry has \'subjects\' ({"<issuer>:<subject>": {"type": …}}) and \'resources\' ({"thing:/…": {"grant": [...], "revoke": [...]}}) with permissions READ, WRITE or EXECUTE.',
    ),
  labelInvalid: (label: string) =>
    new DomainError(
      400,
      'policies:label.invalid',
      `The Policy Label '${label.slice(0, 300)}' is invalid.`,
      "A label is 1 to 256 characters without '/' and must not start with 'imported'.",
    ),
  subjectIdInvalid: (subjectId: string) =>
    new DomainError(
      400,
      'policies:subjectid.invalid',
      `The Subject ID '${subjectId.slice(0, 300)}' is not valid.`,
      "A subject ID is '<issuer>:<subject>', 1 to 256 characters.",
    ),
  subjectExpiryInvalid: (expiry: string) =>
    new DomainError(
      400,
      'policies:subjectexpiry.invalid',
      `The expiry of a Policy Subject '${String(expiry).slice(0, 100)}' is invalid.`,
      'It must be an ISO-8601 timestamp, e.g. 2030-01-01T00:00:00Z.',
    ),
  importInvalid: (message: string) =>
    new DomainError(
      400,
      'policies:import.invalid',
      message,
      'Policy imports map policy IDs to {"entries": [labels]}; a policy cannot import itself.',
    ),
  importsTooLarge: (max: number) =>
    new DomainError(
      400,
      'policies:imports.toolarge',
      `The number of policy imports exceeds the maximum of ${max}.`,
      'Reduce the number of imported policies.',
    ),
  preconditionFailed: (header: string, value: string) =>
    new DomainError(
      412,
      'policies:precondition.failed',
      `The comparison of precondition header '${header}' for the requested Policy resource evaluated to false. Header value: '${value}'.`,
      `The comparison of the provided precondition header '${header}' with the current ETag value of the requested Policy resource evaluated to false. Check the value of your conditional header value.`,
    ),
  notModified: (header: string, value: string, etag: string) =>
    new DomainError(
      304,
      'policies:precondition.notmodified',
      `The comparison of precondition header '${header}' for the requested Policy resource evaluated to false. Expected: '${value}' not to match actual: '${etag}'.`,
      undefined,
      { ETag: etag },
    ),
};

function policyLevel(path: readonly string[], policyId: string): { code: string; what: string } {
  const policy = `the Policy with ID '${policyId}'`;
  const [top, key, sub, subKey] = path;
  if (top === 'imports') {
    if (key === undefined) return { code: 'imports', what: `The Policy Imports on ${policy}` };
    return { code: 'import', what: `The Policy Import with ID '${key}' on ${policy}` };
  }
  if (top !== 'entries' || key === undefined)
    return { code: 'policy', what: `The Policy with ID '${policyId}'` };
  const entry = `the PolicyEntry with Label '${key}' on ${policy}`;
  if (sub === 'subjects') {
    if (subKey === undefined) return { code: 'subjects', what: `The Subjects of ${entry}` };
    return { code: 'subject', what: `The Subject with ID '${subKey}' of ${entry}` };
  }
  if (sub === 'resources') {
    if (subKey === undefined) return { code: 'resources', what: `The Resources of ${entry}` };
    return { code: 'resource', what: `The Resource with path '${subKey}' of ${entry}` };
  }
  return { code: 'entry', what: `The PolicyEntry with Label '${key}' on ${policy}` };
}
