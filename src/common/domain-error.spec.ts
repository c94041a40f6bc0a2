import { describe, expect, it, jest } from '@jest/globals';
import { DomainError, toDomainError } from './domain-error.js';

describe('toDomainError', () => {
  it('keeps a domain error as it is', () => {
    const mine = new DomainError(404, 'things:thing.notfound', 'gone', 'look elsewhere');
    expect(toDomainError(mine, () => undefined)).toBe(mine);
  });

  it.each([
    ['the server shutting down', Object.assign(new Error('terminating connection'), { code: '57P01' })],
    ['a refused connection', Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })],
    ['a dropped connection', new Error('Connection terminated unexpectedly')],
    [
      'a pool this replica closed while stopping',
      new Error('Cannot use a pool after calling end on the pool'),
    ],
  ])('answers %s 503 with Retry-After, not an internal error, and logs nothing', (_, err) => {
    const log = jest.fn();
    const answer = toDomainError(err, log);
    expect(answer.status).toBe(503);
    expect(answer.headers).toEqual({ 'Retry-After': '1' });
    expect(log).not.toHaveBeenCalled();
  });

  it('answers anything else 500 and logs its details', () => {
    const log = jest.fn();
    expect(toDomainError(new TypeError('x is undefined'), log).status).toBe(500);
    expect(log).toHaveBeenCalledWith(expect.stringContaining('x is undefined'));
  });
});
