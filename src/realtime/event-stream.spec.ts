import { describe, expect, it } from '@jest/globals';
import type { JournalEntry } from '../journal/journal.types.js';
import type { EnforcerSource } from './event-access.js';
import { EventStream } from './event-stream.js';
import type { StreamSink } from './stream-sink.js';
import { parseStreamSpec } from './stream-spec.js';
import { textFrames } from './ws-socket.js';

const LIMIT = 64 * 1024;
const blob = 'x'.repeat(2000);

let seq = 0;
function modified(thingId: string): JournalEntry {
  seq++;
  return {
    seq: String(seq),
    thingId,
    policyId: thingId,
    revision: seq,
    action: 'modified',
    path: '/attributes/blob',
    value: blob,
    timestamp: '2026-12-08T10:00:00.000Z',
    origin: 'system',
    correlationId: null,
  };
}

/**
 * A socket as Node's presents it: the network takes up to `window` bytes at once while the peer
 * reads (all of them, the peer reading as fast as they come) and none once it stops; what the
 * network does not take waits in user space, which is what `buffered` reports. Corked writes wait
 * in user space until uncorked.
 */
class Transport implements StreamSink {
  buffered = 0;
  received = 0;
  corked = 0;
  overflowed = false;
  private held = 0;

  constructor(
    private readonly window: number,
    private readonly reading: boolean,
  ) {}

  readonly framing = {
    key: 'test',
    frame: textFrames,
    sendFramed: (bytes: Buffer) => {
      this.write(bytes.length);
      return true;
    },
  };

  send(data: string | Buffer): void {
    this.write(Buffer.byteLength(data) + 2);
  }
  cork(): void {
    this.corked++;
  }
  uncork(): void {
    if (--this.corked === 0) this.flush();
  }
  drained(): Promise<void> {
    return Promise.resolve();
  }
  overflow(): void {
    this.overflowed = true;
  }

  private write(n: number): void {
    this.buffered += n;
    if (this.corked === 0) this.flush();
  }

  private flush(): void {
    const room = this.reading ? Infinity : Math.max(0, this.window - this.held);
    const taken = Math.min(room, this.buffered);
    this.buffered -= taken;
    if (this.reading) this.received += taken;
    else this.held += taken;
  }
}

const notLoaded: EnforcerSource = {
  cached: () => undefined,
  load: () => Promise.reject(new Error('the stream has no policies to load')),
  deletedAfter: () => Promise.reject(new Error('the stream has no policies to load')),
};

/** A live stream on a feed the test pushes batches into, as the journal feed hands them over. */
function liveStream(sink: Transport) {
  let push: ((entries: readonly JournalEntry[]) => unknown) | undefined;
  const stream = new EventStream(
    {
      feed: {
        subscribe: (onEntries) => {
          push = onEntries;
          return { live: true, close: () => undefined };
        },
      },
      states: { after: () => Promise.reject(new Error('no extra fields were asked for')) },
      limit: LIMIT,
      enforcers: notLoaded,
    },
    parseStreamSpec({}),
    sink,
    (ev) => ev.wireBuffer,
    {
      onError: (err) => {
        throw err;
      },
    },
  );
  stream.start();
  return { stream, push: (entries: JournalEntry[]) => push!(entries) };
}

const burst = (n: number) => Array.from({ length: n }, (_, i) => modified(`org.burst:t-${i}`));

describe('EventStream outbound bound', () => {
  it('delivers a burst larger than the limit to a client that keeps reading', () => {
    const sink = new Transport(16 * 1024, true);
    const { stream, push } = liveStream(sink);
    const events = burst(100); // about 230 kB, 3.5 times the limit, in one feed batch
    push(events);
    expect(sink.overflowed).toBe(false);
    expect(sink.received).toBeGreaterThan(3 * LIMIT);
    expect(stream.peakPending).toBeLessThanOrEqual(LIMIT);
  });

  it('closes a client that stopped reading once what it holds reaches the limit, not before', () => {
    const sink = new Transport(16 * 1024, false);
    const { stream, push } = liveStream(sink);
    push(burst(100));
    expect(sink.overflowed).toBe(true);
    expect(stream.peakPending).toBeGreaterThan(LIMIT - 3000);
    expect(stream.peakPending).toBeLessThanOrEqual(LIMIT);
  });

  it('closes a client that stopped reading over many small batches at the limit', () => {
    const sink = new Transport(16 * 1024, false);
    const { stream, push } = liveStream(sink);
    for (let i = 0; i < 200 && !sink.overflowed; i++) push(burst(3));
    expect(sink.overflowed).toBe(true);
    expect(stream.peakPending).toBeGreaterThan(LIMIT / 2);
    expect(stream.peakPending).toBeLessThanOrEqual(LIMIT);
  });

  it('writes a batch that fits in one corked write', () => {
    const sink = new Transport(16 * 1024, true);
    let writes = 0;
    const framed = sink.framing.sendFramed;
    sink.framing.sendFramed = (bytes: Buffer) => {
      writes++;
      return framed(bytes);
    };
    const { push } = liveStream(sink);
    push(burst(10));
    expect(writes).toBe(1);
    expect(sink.received).toBeGreaterThan(10 * 2000);
  });
});
