import { describe, expect, it } from '@jest/globals';
import { coalescedReads } from './coalesced-reads.js';

/** A load whose statements the test finishes by hand, recording the keys of each. */
function manualLoad() {
  const statements: { keys: string[]; finish: (err?: Error) => void }[] = [];
  let running = 0;
  let mostAtOnce = 0;
  const load = (keys: readonly string[]) =>
    new Promise<ReadonlyMap<string, string>>((resolve, reject) => {
      running++;
      mostAtOnce = Math.max(mostAtOnce, running);
      statements.push({
        keys: [...keys],
        finish: (err) => {
          running--;
          if (err) reject(err);
          else
            resolve(new Map(keys.filter((k) => !k.startsWith('missing')).map((k) => [k, `value of ${k}`])));
        },
      });
    });
  return { load, statements, mostAtOnce: () => mostAtOnce };
}

const ticks = async (n = 3) => {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
};

describe('coalescedReads', () => {
  it('sends a read alone at once when nothing else runs', async () => {
    const db = manualLoad();
    const reads = coalescedReads(db.load, { concurrency: 2, maxBatch: 10 });
    const answer = reads.load('a');
    await ticks();
    expect(db.statements.map((s) => s.keys)).toEqual([['a']]);
    db.statements[0].finish();
    await expect(answer).resolves.toBe('value of a');
  });

  it('collects the reads asked for while the statements run into the next one, never more at once', async () => {
    const db = manualLoad();
    const reads = coalescedReads(db.load, { concurrency: 2, maxBatch: 100 });
    const first = [reads.load('a')];
    await ticks();
    first.push(reads.load('b'));
    await ticks();
    const waiting = ['c', 'd', 'missing-1', 'e'].map((k) => reads.load(k));
    await ticks();
    // Two statements run (a, then b); c…e wait together.
    expect(db.statements.map((s) => s.keys)).toEqual([['a'], ['b']]);
    db.statements[0].finish();
    await ticks();
    expect(db.statements[2].keys).toEqual(['c', 'd', 'missing-1', 'e']);
    db.statements[1].finish();
    db.statements[2].finish();
    await expect(Promise.all([...first, ...waiting])).resolves.toEqual([
      'value of a',
      'value of b',
      'value of c',
      'value of d',
      undefined,
      'value of e',
    ]);
    expect(db.mostAtOnce()).toBe(2);
  });

  it('splits what waits into statements of at most maxBatch keys', async () => {
    const db = manualLoad();
    const reads = coalescedReads(db.load, { concurrency: 1, maxBatch: 3 });
    const answers = ['a', 'b', 'c', 'd', 'e', 'f', 'g'].map((k) => reads.load(k));
    await ticks();
    for (let i = 0; i < 3; i++) {
      expect(db.statements).toHaveLength(i + 1);
      db.statements[i].finish();
      await ticks();
    }
    expect(db.statements.map((s) => s.keys)).toEqual([['a', 'b', 'c'], ['d', 'e', 'f'], ['g']]);
    await expect(Promise.all(answers)).resolves.toHaveLength(7);
    expect(db.mostAtOnce()).toBe(1);
  });

  it('fails only the reads of a failed statement; the next statement still runs', async () => {
    const db = manualLoad();
    const reads = coalescedReads(db.load, { concurrency: 1, maxBatch: 10 });
    const failing = reads.load('a');
    await ticks();
    const later = reads.load('b');
    db.statements[0].finish(new Error('connection lost'));
    await expect(failing).rejects.toThrow('connection lost');
    await ticks();
    expect(db.statements[1].keys).toEqual(['b']);
    db.statements[1].finish();
    await expect(later).resolves.toBe('value of b');
  });

  it('reads again after a statement ended: nothing is remembered between statements', async () => {
    const db = manualLoad();
    const reads = coalescedReads(db.load, { concurrency: 1, maxBatch: 10 });
    for (let i = 0; i < 2; i++) {
      const answer = reads.load('a');
      await ticks();
      db.statements[i].finish();
      await expect(answer).resolves.toBe('value of a');
    }
    expect(db.statements).toHaveLength(2);
  });
});
