import { DomainError } from '../../common/domain-error.js';

/**
 * Ditto answers `Accept: application/td+json` with a WoT Thing Description generated from the
 * thing's WoT Thing Model. This platform resolves no Thing Models, so such a request is refused
 * with Ditto's error for an unsupported header, never answered with the plain thing as if it were
 * a TD. A request that also accepts JSON (`application/json`, `application/*`, `*\/*`) gets JSON.
 */
export function refuseThingDescription(accept: string | undefined, thingId: string): void {
  if (!accept || !accept.toLowerCase().includes('application/td+json')) return;
  const types = accept
    .toLowerCase()
    .split(',')
    .map((t) => t.split(';')[0].trim());
  if (types.some((t) => t === 'application/json' || t === 'application/*' || t === '*/*')) return;
  throw new DomainError(
    400,
    'header.notsupported',
    `A WoT Thing Description ('application/td+json') of the Thing with ID '${thingId}' is not available: this platform resolves no WoT Thing Models.`,
    "Ask for 'application/json' (the Thing itself).",
  );
}
