import { describe, expect, it } from '@jest/globals';
import { certificateNames } from './certificate-identity.js';

describe('certificateNames', () => {
  it.each([
    ['no certificate', undefined, []],
    ['CN only', { subject: { CN: 'org.acme:meter-1' } }, ['org.acme:meter-1']],
    ['several CNs', { subject: { CN: ['org.acme:a', 'org.acme:b'] } }, ['org.acme:a', 'org.acme:b']],
    [
      'URI SANs next to other kinds',
      {
        subject: { CN: 'meter' },
        subjectaltname: 'DNS:meter.local, URI:org.acme:meter-1, IP Address:10.0.0.1',
      },
      ['meter', 'org.acme:meter-1'],
    ],
    [
      'a quoted URI SAN (node quotes values with commas)',
      { subjectaltname: 'URI:"org.acme:a,b", URI:org.acme:c' },
      ['org.acme:a,b', 'org.acme:c'],
    ],
    ['a quoted value with an escaped quote', { subjectaltname: 'URI:"org.acme:\\"q\\""' }, ['org.acme:"q"']],
    ['DNS names only', { subjectaltname: 'DNS:a, DNS:b' }, []],
    ['a broken quoted value', { subjectaltname: 'URI:"org.acme:a' }, []],
  ])('%s', (_what, cert, names) => {
    expect(certificateNames(cert)).toEqual(names);
  });

  it('reads at most 32 names of a hostile certificate', () => {
    const san = Array.from({ length: 10_000 }, (_, i) => `URI:org.acme:d${i}`).join(', ');
    expect(certificateNames({ subjectaltname: san })).toHaveLength(32);
  });
});
