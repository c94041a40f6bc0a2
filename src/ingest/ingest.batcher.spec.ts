import { describe, expect, it } from '@jest/globals';
import { loadConfig } from '../config/config.schema.js';
import { ConfigService } from '../config/config.service.js';
import type { InboundMessage } from './device-contract.js';
import { IngestStats } from './ingest-stats.js';
import { IngestBatcher, laneOf } from './ingest.batcher.js';
import { NO_OUTCOME, type BatchOutcome, type IngestWriter } from './ingest.writer.js';

/** A writer whose commits the test ends, and whose twin phase it announces, one by one. */
class FakeWriter {
  readonly commits: {
    topics: string[];
    twinPhase: () => void;
    finish: () => void;
    fail: (err: Error) => void;
  }[] = [];

  commit(messages: InboundMessage[], onTwinPhase?: () => void): Promise<BatchOutcome> {
    return new Promise((ok, fail) =>
      this.commits.push({
        topics: messages.map((m) => m.topic),
        twinPhase: () => onTwinPhase?.(),
        finish: () => ok(NO_OUTCOME),
        fail,
      }),
    );
  }
}

function setup(batchMax: number) {
  const writer = new FakeWriter();
  const stats = new IngestStats();
  const config = new ConfigService(
    loadConfig({ INGEST_BATCH_MAX: String(batchMax), INGEST_BATCH_MS: '10000' }),
  );
  const batcher = new IngestBatcher(writer as unknown as IngestWriter, stats, config);
  const acked: string[] = [];
  const submit = (...topics: string[]) => {
    for (const topic of topics) {
      batcher.submit({ topic, payload: Buffer.from('{}'), receivedAt: 0, retained: false }, () =>
        acked.push(topic),
      );
    }
  };
  /** Ends the test: every commit finishes (those stop() starts for what is queued too), no timer is left. */
  const close = async () => {
    let done = false;
    const stopped = batcher.stop().then(() => (done = true));
    while (!done) {
      for (const c of writer.commits) c.finish();
      await settle();
    }
    await stopped;
  };
  return { writer, stats, batcher, acked, submit, close };
}

/** Lets every promise callback that can run, run. */
const settle = () => new Promise((ok) => setImmediate(ok));

describe('IngestBatcher', () => {
  it('starts the next batch when the one before reaches its twins, at most two at once', async () => {
    const { writer, submit, close } = setup(2);
    submit('m1', 'm2', 'm3', 'm4');
    expect(writer.commits.map((c) => c.topics)).toEqual([['m1', 'm2']]);
    writer.commits[0].twinPhase();
    expect(writer.commits.map((c) => c.topics)).toEqual([
      ['m1', 'm2'],
      ['m3', 'm4'],
    ]);
    submit('m5', 'm6');
    writer.commits[1].twinPhase();
    // Two batches commit: the third waits for one of them to end.
    expect(writer.commits).toHaveLength(2);
    writer.commits[0].finish();
    await settle();
    expect(writer.commits.map((c) => c.topics)[2]).toEqual(['m5', 'm6']);
    await close();
  });

  it('acknowledges only committed messages, in the order they came, whichever batch commits first', async () => {
    const { writer, stats, acked, submit, close } = setup(2);
    submit('m1', 'm2', 'm3', 'm4');
    writer.commits[0].twinPhase();
    writer.commits[1].finish();
    await settle();
    expect(acked).toEqual([]);
    writer.commits[0].finish();
    await settle();
    expect(acked).toEqual(['m1', 'm2', 'm3', 'm4']);
    expect(stats.acknowledged).toBe(4);
    expect(stats.batches).toBe(2);
    await close();
  });

  it('commits a batch as one transaction per lane, each thing always in the same lane', async () => {
    const { writer, stats, acked, submit, close } = setup(6);
    const a = 'things/org.example:a/telemetry';
    const b = 'things/org.example:b/telemetry';
    expect(laneOf(a, 2)).not.toBe(laneOf(b, 2));
    submit(a, b, `${a}`, 'things/org.example:a/status', b, 'elsewhere');
    const lanes = writer.commits.map((c) => c.topics);
    expect(lanes).toHaveLength(2);
    expect(lanes.flat().sort()).toEqual([a, a, 'things/org.example:a/status', b, b, 'elsewhere'].sort());
    for (const lane of lanes) {
      expect(new Set(lane.filter((t) => t.startsWith('things/')).map((t) => t.split('/')[1])).size).toBe(1);
    }
    // The next batch starts only when both lanes have reached their twins.
    submit(a, b);
    writer.commits[0].twinPhase();
    expect(writer.commits).toHaveLength(2);
    writer.commits[1].twinPhase();
    writer.commits[0].finish();
    await settle();
    // Acknowledged only when every lane of the batch has committed.
    expect(acked).toEqual([]);
    writer.commits[1].finish();
    await settle();
    expect(acked).toEqual([a, b, a, 'things/org.example:a/status', b, 'elsewhere']);
    expect(stats.batches).toBe(1);
    await close();
  });

  it('spreads things over the lanes', () => {
    const counts = [0, 0, 0];
    for (let i = 0; i < 3000; i++) counts[laneOf(`things/org.example:meter-${i}/telemetry`, 3)]++;
    for (const n of counts) expect(n).toBeGreaterThan(800);
    expect(laneOf('things/org.example:x/telemetry', 1)).toBe(0);
    expect(laneOf('not/a/thing', 4)).toBe(0);
  });

  it('closes a batch at INGEST_BATCH_MAX_BYTES of payload, however few messages it holds', async () => {
    const writer = new FakeWriter();
    const config = new ConfigService(
      loadConfig({ INGEST_BATCH_MAX: '100', INGEST_BATCH_MS: '10000', INGEST_BATCH_MAX_BYTES: '65536' }),
    );
    const batcher = new IngestBatcher(writer as unknown as IngestWriter, new IngestStats(), config);
    const big = (topic: string) =>
      batcher.submit(
        { topic, payload: Buffer.alloc(30_000), receivedAt: 0, retained: false },
        () => undefined,
      );
    big('m1');
    big('m2');
    expect(writer.commits).toHaveLength(0);
    big('m3');
    // 90 kB queued: the batch takes what fits in 64 kB; the rest waits for the next one.
    expect(writer.commits.map((c) => c.topics)).toEqual([['m1', 'm2']]);
    writer.commits[0].twinPhase();
    expect(writer.commits.map((c) => c.topics)[1]).toEqual(['m3']);
    const stopped = batcher.stop();
    for (const c of writer.commits) c.finish();
    await stopped;
  });

  it('on stop lets running commits finish, then commits and acknowledges what is queued', async () => {
    const { writer, batcher, acked, submit } = setup(2);
    submit('m1', 'm2', 'm3');
    const stopped = batcher.stop();
    writer.commits[0].finish();
    while (writer.commits.length < 2) await settle();
    expect(writer.commits[1].topics).toEqual(['m3']);
    writer.commits[1].finish();
    await stopped;
    expect(acked).toEqual(['m1', 'm2', 'm3']);
    expect(writer.commits).toHaveLength(2);
    expect(batcher.pending).toBe(0);
  });
});

/** Commits at once, but the database refuses any batch holding a message on topic 'poison'. */
class PoisonWriter {
  readonly committed: string[][] = [];
  readonly refused: string[] = [];

  commit(messages: InboundMessage[]): Promise<BatchOutcome> {
    const topics = messages.map((m) => m.topic);
    if (topics.includes('poison')) {
      return Promise.reject(Object.assign(new Error('invalid input syntax'), { code: '22P02' }));
    }
    this.committed.push(topics);
    return Promise.resolve(NO_OUTCOME);
  }

  refuse(msg: InboundMessage): Promise<BatchOutcome> {
    this.refused.push(msg.topic);
    return Promise.resolve({ ...NO_OUTCOME, deadLetters: ['storage_refused'] });
  }
}

describe('a message the database cannot store', () => {
  it('is isolated by splitting its batch and dead-lettered; the rest commits and all are acknowledged', async () => {
    const writer = new PoisonWriter();
    const stats = new IngestStats();
    const config = new ConfigService(loadConfig({ INGEST_BATCH_MAX: '5', INGEST_BATCH_MS: '10000' }));
    const batcher = new IngestBatcher(writer as unknown as IngestWriter, stats, config);
    const acked: string[] = [];
    for (const topic of ['a', 'b', 'poison', 'c', 'd']) {
      batcher.submit({ topic, payload: Buffer.from('{}'), receivedAt: 0, retained: false }, () =>
        acked.push(topic),
      );
    }
    for (let i = 0; i < 20 && acked.length < 5; i++) await settle();
    expect(acked).toEqual(['a', 'b', 'poison', 'c', 'd']);
    expect(writer.refused).toEqual(['poison']);
    expect(writer.committed.flat()).toEqual(['a', 'b', 'c', 'd']);
    await batcher.stop();
  });
});
