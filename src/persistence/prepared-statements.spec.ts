import { describe, expect, it } from '@jest/globals';
import { PreparedStatements } from './prepared-statements.js';

describe('PreparedStatements', () => {
  it('names each marked text once, the same name every time, and leaves unmarked ones unnamed', () => {
    const s = new PreparedStatements(true);
    const a = s.config('SELECT 1 WHERE $1', [1], { prepare: true });
    const b = s.config('SELECT 2 WHERE $1', [2], { prepare: true });
    expect(a).toEqual({ name: expect.any(String), text: 'SELECT 1 WHERE $1', values: [1] });
    expect(b.name).not.toBe(a.name);
    expect(s.config('SELECT 1 WHERE $1', [3], { prepare: true }).name).toBe(a.name);
    expect(s.config('SELECT 1 WHERE $1', [3])).toEqual({ text: 'SELECT 1 WHERE $1', values: [3] });
  });

  it('names nothing when switched off', () => {
    const s = new PreparedStatements(false);
    expect(s.config('SELECT 1', [], { prepare: true })).toEqual({ text: 'SELECT 1', values: [] });
  });

  it('stops naming past a bound, since each connection keeps what it prepared', () => {
    const s = new PreparedStatements(true);
    const names = Array.from({ length: 300 }, (_, i) => s.config(`SELECT ${i}`, [], { prepare: true }).name);
    expect(new Set(names.filter(Boolean)).size).toBe(256);
    expect(names.slice(256).every((n) => n === undefined)).toBe(true);
    // Texts named before the bound keep their names.
    expect(s.config('SELECT 0', [], { prepare: true }).name).toBe(names[0]);
  });

  it("gives request shapes a budget of their own, so many shapes never take the fixed texts' names", () => {
    const s = new PreparedStatements(true);
    const fixed = s.config('SELECT fixed', [], { prepare: true });
    const shapes = Array.from(
      { length: 200 },
      (_, i) => s.config(`SELECT ${i}`, [], { prepare: 'shape' }).name,
    );
    expect(new Set(shapes.filter(Boolean)).size).toBe(128);
    expect(shapes.slice(128).every((n) => n === undefined)).toBe(true);
    expect(s.config('SELECT 0', [], { prepare: 'shape' }).name).toBe(shapes[0]);
    // Fixed texts are still named, old and new.
    expect(s.config('SELECT fixed', [], { prepare: true }).name).toBe(fixed.name);
    expect(s.config('SELECT another fixed', [], { prepare: true }).name).toBeDefined();
    // After a renewal the shapes' budget starts over with the names.
    s.renew(fixed);
    expect(s.config('SELECT 199', [], { prepare: 'shape' }).name).toBeDefined();
  });

  it('runs a very long shape unnamed: its plan would be as large, kept in every session', () => {
    const s = new PreparedStatements(true);
    const long = `SELECT 1 WHERE ${Array.from({ length: 500 }, (_, i) => `$1 > ${i}`).join(' AND ')}`;
    expect(s.config(long, [1], { prepare: 'shape' }).name).toBeUndefined();
    expect(s.config('SELECT 1 WHERE $1 > 0', [1], { prepare: 'shape' }).name).toBeDefined();
  });

  it('names every text anew after a stale plan, once however many of its statements fail', () => {
    const s = new PreparedStatements(true);
    const a = s.config('SELECT a', [], { prepare: true });
    const b = s.config('SELECT b', [], { prepare: true });
    s.renew(a);
    const a2 = s.config('SELECT a', [], { prepare: true });
    expect(a2.name).toBeDefined();
    expect(a2.name).not.toBe(a.name);
    // b failed too, at the same time: its old name renews nothing more.
    s.renew(b);
    expect(s.config('SELECT a', [], { prepare: true }).name).toBe(a2.name);
  });

  it('stops naming after a few renewals rather than leaving ever more statements in each session', () => {
    const s = new PreparedStatements(true);
    for (let i = 0; i < 8; i++) s.renew(s.config('SELECT a', [], { prepare: true }));
    const last = s.config('SELECT a', [], { prepare: true });
    expect(last.name).toBeDefined();
    s.renew(last);
    expect(s.config('SELECT a', [], { prepare: true }).name).toBeUndefined();
  });
});
