import { encodeReading, telemetryTopic, type Features, type JsonValue, type Reading } from './contract.js';
import type { Rng } from './rng.js';

/**
 * Faulty delivery, decided per reading with a seeded Rng and built without I/O, so a test can
 * check exactly what a device will send. Each rate is a probability per valid reading:
 * - duplicate: the same payload (same ts and seq) is published again right after it;
 * - out-of-order: the reading is held back and published after the next one, so it arrives
 *   with an older ts than a reading already sent (several may be held, at most MAX_HELD);
 * - malformed: one broken message is published besides the reading. It never consumes a seq:
 *   where it carries one, it is the seq of the reading it accompanies.
 */

export const MALFORMED_KINDS = ['not-json', 'nan', 'wrong-types', 'bad-topic', 'oversize'] as const;
export type MalformedKind = (typeof MALFORMED_KINDS)[number];

export interface FaultRates {
  duplicate: number;
  outOfOrder: number;
  malformed: number;
}

export const NO_FAULTS: FaultRates = { duplicate: 0, outOfOrder: 0, malformed: 0 };

/** Oversize payloads are at least this long: above the 64 kB limits brokers and ingests use. */
export const OVERSIZE_BYTES = 70 * 1024;
/** Bounds how late a held-back reading can arrive when out-of-order faults come in a row. */
export const MAX_HELD = 4;

export type Outgoing =
  | { kind: 'reading'; topic: string; payload: string; reading: Reading; late: boolean }
  | { kind: 'duplicate'; topic: string; payload: string; reading: Reading }
  | { kind: 'malformed'; topic: string; payload: string | Buffer; malformed: MalformedKind; variant: string };

export class FaultInjector {
  private held: { reading: Reading; duplicate: boolean }[] = [];

  constructor(
    private readonly thingId: string,
    private readonly rates: FaultRates,
    private readonly rng: Rng,
    /** A device logged in as itself cannot publish for another id: then no 'bad-topic'. */
    private readonly kinds: readonly MalformedKind[] = MALFORMED_KINDS,
  ) {}

  get heldBack(): number {
    return this.held.length;
  }

  /** The messages to publish, in order, for a new reading. */
  plan(reading: Reading): Outgoing[] {
    // Every draw is made for every reading, so one rate does not change what the others decide.
    const duplicate = this.rng.chance(this.rates.duplicate);
    const holdBack = this.rng.chance(this.rates.outOfOrder);
    const malformed = this.rng.chance(this.rates.malformed) ? this.rng.pick(this.kinds) : null;

    const out: Outgoing[] = [];
    if (holdBack && this.held.length < MAX_HELD) {
      this.held.push({ reading, duplicate });
    } else {
      out.push(...this.deliver(reading, duplicate, false));
      // What was held goes out after a newer reading: that is the out-of-order delivery.
      for (const h of this.held.splice(0)) out.push(...this.deliver(h.reading, h.duplicate, true));
    }
    if (malformed) out.push(buildMalformed(malformed, this.thingId, reading, this.rng));
    return out;
  }

  /** Readings still held back when the device stops; nothing newer follows, so not late. */
  flush(): Outgoing[] {
    return this.held.splice(0).flatMap((h) => this.deliver(h.reading, h.duplicate, false));
  }

  private deliver(reading: Reading, duplicate: boolean, late: boolean): Outgoing[] {
    const topic = telemetryTopic(this.thingId);
    const payload = encodeReading(reading);
    const out: Outgoing[] = [{ kind: 'reading', topic, payload, reading, late }];
    if (duplicate) out.push({ kind: 'duplicate', topic, payload, reading });
    return out;
  }
}

type Built = { topic?: string; payload: string | Buffer; variant: string };

/** A malformed message of the given kind, built around the reading it accompanies. */
export function buildMalformed(
  kind: MalformedKind,
  thingId: string,
  reading: Reading,
  rng: Rng,
): Extract<Outgoing, { kind: 'malformed' }> {
  const built = BUILDERS[kind](thingId, reading, rng);
  return {
    kind: 'malformed',
    topic: built.topic ?? telemetryTopic(thingId),
    payload: built.payload,
    malformed: kind,
    variant: built.variant,
  };
}

const BUILDERS: Record<MalformedKind, (thingId: string, reading: Reading, rng: Rng) => Built> = {
  'not-json': (_id, reading, rng) => {
    const variant = rng.pick(['truncated', 'key-value-text', 'binary'] as const);
    switch (variant) {
      case 'truncated': {
        const json = encodeReading(reading);
        return { variant, payload: json.slice(0, Math.floor(json.length * rng.uniform(0.3, 0.8))) };
      }
      case 'key-value-text': {
        const pairs = leaves(reading.features).map(
          ([path, value]) => `${path}=${typeof value === 'string' ? value : JSON.stringify(value)}`,
        );
        return { variant, payload: [`ts=${reading.ts}`, `seq=${reading.seq}`, ...pairs].join(';') };
      }
      case 'binary':
        // Random bytes are mostly not even valid UTF-8.
        return {
          variant,
          payload: Buffer.from(Array.from({ length: rng.int(16, 64) }, () => rng.int(0, 255))),
        };
    }
  },

  nan: (_id, reading, rng) => {
    const token = rng.pick(['NaN', 'NaN', 'Infinity', '-Infinity'] as const);
    const marker = '"__not_a_number__"';
    const numeric = leaves(reading.features).find(([, value]) => typeof value === 'number');
    const features = numeric ? withLeaf(reading.features, numeric[0], '__not_a_number__') : reading.features;
    const body = numeric
      ? { ts: reading.ts, seq: reading.seq, features }
      : { ts: '__not_a_number__', seq: reading.seq, features };
    // JSON.stringify would write null for NaN; the point is the bare token a sloppy encoder emits.
    return { variant: token, payload: JSON.stringify(body).replace(marker, token) };
  },

  'wrong-types': (_id, reading, rng) => {
    const { ts, seq, features } = reading;
    const [firstId] = Object.keys(features);
    const variant = rng.pick([
      'ts-numeric-string',
      'seq-string',
      'features-array',
      'feature-scalar',
      'top-level-array',
    ] as const);
    const body: Record<string, JsonValue> | JsonValue[] = {
      // Epoch ms as a string: an ISO 8601 string would be a valid ts (the contract allows both).
      'ts-numeric-string': { ts: String(ts), seq, features },
      'seq-string': { ts, seq: String(seq), features },
      'features-array': { ts, seq, features: Object.entries(features).map(([id, p]) => ({ id, ...p })) },
      'feature-scalar': { ts, seq, features: { [firstId ?? 'feature']: 42 } },
      'top-level-array': [ts, seq, features],
    }[variant];
    return { variant, payload: JSON.stringify(body) };
  },

  'bad-topic': (thingId, reading, rng) => {
    // Both still match `things/+/telemetry`, so an ingest sees them and has to refuse the id.
    const colon = thingId.indexOf(':');
    const variant = rng.pick(['no-namespace', 'empty-name'] as const);
    const badId = variant === 'no-namespace' ? thingId.slice(colon + 1) : thingId.slice(0, colon + 1);
    return { variant, topic: telemetryTopic(badId), payload: encodeReading(reading) };
  },

  oversize: (_id, reading, rng) => {
    const [firstId = 'feature'] = Object.keys(reading.features);
    const padded = (padding: string): string =>
      encodeReading({
        ...reading,
        features: { ...reading.features, [firstId]: { ...reading.features[firstId], padding } },
      });
    // The payload is ASCII, so its length in characters is its length in bytes.
    const fill = OVERSIZE_BYTES - padded('').length + rng.int(0, 1024);
    return { variant: 'padding', payload: padded('x'.repeat(Math.max(0, fill))) };
  },
};

/** Leaf values of the features with their dotted paths, in document order. */
function leaves(value: JsonValue | Features, prefix = ''): [string, JsonValue][] {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return [[prefix, value]];
  return Object.entries(value).flatMap(([key, child]) => leaves(child, prefix ? `${prefix}.${key}` : key));
}

function withLeaf(features: Features, path: string, replacement: JsonValue): Features {
  const copy = structuredClone(features) as Record<string, JsonValue>;
  const keys = path.split('.');
  let node = copy;
  for (const key of keys.slice(0, -1)) node = node[key] as Record<string, JsonValue>;
  node[keys[keys.length - 1]] = replacement;
  return copy as Features;
}
