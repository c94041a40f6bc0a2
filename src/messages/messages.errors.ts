import { DomainError } from '../common/domain-error.js';

/** The messages feature's errors, with Ditto's codes (../shared/ditto/error-codes.tsv). */
export const MessageErrors = {
  subjectInvalid: (why: string) =>
    new DomainError(
      400,
      'messages:subject.invalid',
      why,
      'A subject is 1 to 256 characters without +, # or empty levels.',
    ),
  featureIdInvalid: (why: string) =>
    new DomainError(400, 'messages:featureid.invalid', why, 'Check the feature id of the request.'),
  formatInvalid: (why: string) =>
    new DomainError(
      400,
      'messages:messageformat.invalid',
      why,
      'The payload must match its Content-Type (JSON for application/json, UTF-8 for text/*).',
    ),
  timeoutInvalid: (raw: string, max: number) =>
    new DomainError(
      400,
      'timeout.invalid',
      `The timeout '${raw.slice(0, 50)}' is not valid.`,
      `The timeout is a whole number of seconds from 0 to ${max}.`,
    ),
  payloadTooLarge: (size: number, max: number) =>
    new DomainError(
      413,
      'messages:payload.toolarge',
      `The message payload of ${size} bytes exceeds the limit of ${max} bytes.`,
      'Reduce the size of the payload (MESSAGES_MAX_PAYLOAD_BYTES).',
    ),
  sendNotAllowed: (thingId: string, resource: string) =>
    new DomainError(
      403,
      'messages:send.notallowed',
      `You are not allowed to send messages to '${resource}' of the Thing with ID '${thingId}'.`,
      `Ask the thing's owner for WRITE permission on the resource 'message:${resource}'.`,
    ),
  timeout: (seconds: number) =>
    new DomainError(
      408,
      'command.timeout',
      `The message was not answered within the timeout of ${seconds * 1000}ms.`,
      'Make sure the device is connected and answers on its outbox, or increase the timeout (at most 60 seconds).',
    ),
  tooManyPending: (thingId: string) =>
    new DomainError(
      429,
      'messages:authorization.blocked',
      `Too many messages to the Thing with ID '${thingId}' are waiting for an answer.`,
      'Wait for the outstanding messages to be answered or to time out, or send with timeout=0.',
    ),
  duplicateCorrelationId: (correlationId: string) =>
    new DomainError(
      409,
      'acknowledgement:request.duplicate.correlation-id',
      `A message with the correlation-id '${correlationId.slice(0, 100)}' is already waiting for its answer.`,
      'Use a unique correlation-id per message.',
    ),
  unavailable: () =>
    new DomainError(
      503,
      'messages:broker.unavailable',
      'The MQTT broker cannot be reached: the message cannot be delivered.',
      'Retry later.',
      { 'Retry-After': '1' },
    ),
};
