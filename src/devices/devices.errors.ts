import { DomainError } from '../common/domain-error.js';

/** The errors of the devices feature; codes in Ditto's `<area>:<what>.<kind>` style. */
export const DeviceErrors = {
  credentialsNotFound: (thingId: string) =>
    new DomainError(
      404,
      'devices:credentials.notfound',
      `The Thing with ID '${thingId}' has no device credentials.`,
      'Set them with PUT /api/2/things/{thingId}/credentials.',
    ),
  credentialsNotModifiable: (thingId: string) =>
    new DomainError(
      403,
      'devices:credentials.notmodifiable',
      `The device credentials of the Thing with ID '${thingId}' could not be accessed as the requester had insufficient permissions ('WRITE' on 'policy:/' of its Policy is required).`,
      'Ask whoever administers the Thing’s Policy, or grant WRITE on policy:/ to your subject.',
    ),
  thingIdUnusable: (thingId: string) =>
    new DomainError(
      400,
      'devices:thingid.unusable',
      `The Thing ID '${thingId}' cannot log in over MQTT: it contains '+' or '#'.`,
      "A device's thing ID is a topic level and its client ID; MQTT wildcards cannot be part of it.",
    ),
  secretInvalid: (why: string) =>
    new DomainError(
      400,
      'devices:secret.invalid',
      why,
      'Leave the secret out to have one generated, or give 16 to 256 printable ASCII characters.',
    ),
  provisionInvalid: (why: string) =>
    new DomainError(
      400,
      'devices:provision.invalid',
      why,
      'Send {"things": [{"thingId": "<namespace>:<name>", "secret": "<optional>"}, …]} with 1 to 1000 distinct things.',
    ),
};
