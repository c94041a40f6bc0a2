import type { AedesOptions } from 'aedes';

/**
 * Who may do what on the embedded broker: device identity on CONNECT and each device on its own
 * topics. Provided (under BROKER_ACCESS) by the devices feature; without it the broker is open.
 */
export type BrokerAccess = Pick<
  AedesOptions,
  'preConnect' | 'authenticate' | 'authorizePublish' | 'authorizeSubscribe' | 'authorizeForward'
>;

/**
 * How the ingest takes device messages on the embedded broker before the broker acknowledges them
 * (aedes writes a QoS 1 PUBACK once `authorizePublish` calls back; `published` runs only after the
 * PUBACK), and the ingest's own bounds on what a client may publish: `maxPacketBytes` closes a
 * connection whose packet is larger, before its payload is buffered, and tells `packetRefused`.
 * Provided under BROKER_INTAKE by the ingest (broker-intake.ts).
 */
export type BrokerIntake = Pick<AedesOptions, 'authorizePublish' | 'published'> & {
  maxPacketBytes?: number;
  packetRefused?: () => void;
};

export const BROKER_ACCESS = Symbol('BrokerAccess');
export const BROKER_INTAKE = Symbol('BrokerIntake');

/** Access first, then the intake's bounds: a refusal by either refuses the PUBLISH. */
export function brokerOptions(access?: BrokerAccess, intake?: BrokerIntake): AedesOptions {
  const options: AedesOptions = { ...access, published: intake?.published };
  const first = access?.authorizePublish;
  const second = intake?.authorizePublish;
  if (first && second) {
    options.authorizePublish = (client, packet, done) =>
      first(client, packet, (err) => (err ? done(err) : second(client, packet, done)));
  } else {
    options.authorizePublish = first ?? second;
  }
  for (const k of Object.keys(options) as (keyof AedesOptions)[])
    if (options[k] === undefined) delete options[k];
  return options;
}
