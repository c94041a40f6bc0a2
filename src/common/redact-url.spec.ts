import { describe, expect, it } from '@jest/globals';
import { redactUrl } from './redact-url.js';

describe('redactUrl', () => {
  it.each([
    ['mqtt://user:s3cret@broker:1883', 'mqtt://***@broker:1883'],
    ['postgres://twin:s3cret@db:5432/twin', 'postgres://***@db:5432/twin'],
    ['http://s3cret@ditto', 'http://***@ditto/'],
    ['postgres//admin:s3cret@x/y', '***@x/y'],
    ['bad://admin:s3cret@', 'bad://***@'],
    ['mqtt://broker:1883', 'mqtt://broker:1883'],
  ])('%s → %s', (url, shown) => {
    expect(redactUrl(url)).toBe(shown);
    expect(redactUrl(url)).not.toContain('s3cret');
  });
});
