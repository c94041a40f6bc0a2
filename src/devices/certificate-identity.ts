/** The parts of node's `PeerCertificate` that name a client (tls.TLSSocket#getPeerCertificate). */
export interface PeerCertificateNames {
  subject?: { CN?: string | string[] } | null;
  subjectaltname?: string;
}

/** More names than any device certificate has: a hostile certificate costs bounded work. */
const MAX_NAMES = 32;

/**
 * The names a client certificate gives its holder: its subject CN(s) and URI subject alternative
 * names. A thing id `namespace:name` is itself a URI (scheme = namespace), so either field can
 * carry it. Node prints SANs as `URI:a, DNS:b`, quoting (JSON) a value that holds a comma or a
 * quote; other SAN types (DNS, IP, email) cannot hold a thing id and are skipped.
 */
export function certificateNames(cert: PeerCertificateNames | undefined): string[] {
  const names: string[] = [];
  const cn = cert?.subject?.CN;
  for (const n of Array.isArray(cn) ? cn : cn === undefined ? [] : [cn]) names.push(n);
  const san = cert?.subjectaltname ?? '';
  let i = 0;
  while (i < san.length && names.length < MAX_NAMES) {
    const colon = san.indexOf(':', i);
    if (colon < 0) break;
    const type = san.slice(i, colon);
    let value: string;
    let end: number;
    if (san[colon + 1] === '"') {
      // A JSON string: find its closing quote, skipping escaped characters.
      let j = colon + 2;
      while (j < san.length && san[j] !== '"') j += san[j] === '\\' ? 2 : 1;
      end = j + 1;
      try {
        value = JSON.parse(san.slice(colon + 1, end)) as string;
      } catch {
        break;
      }
    } else {
      end = san.indexOf(', ', colon + 1);
      if (end < 0) end = san.length;
      value = san.slice(colon + 1, end);
    }
    if (type === 'URI') names.push(value);
    i = san.indexOf(', ', end);
    if (i < 0) break;
    i += 2;
  }
  return names.slice(0, MAX_NAMES);
}
