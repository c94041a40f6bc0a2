/**
 * A URL fit for logs and status pages: the userinfo (`user:password@`) is replaced by `***`, so
 * a broker or database password given in the URL is never shown. Strings that do not parse as a
 * URL are cut by hand, so a malformed one cannot leak either.
 */
export function redactUrl(value: string): string {
  const parsed = URL.canParse(value) ? new URL(value) : undefined;
  if (parsed && parsed.host !== '') {
    if (parsed.username === '' && parsed.password === '') return value;
    parsed.username = '***';
    parsed.password = '';
    return parsed.toString();
  }
  const at = value.lastIndexOf('@');
  if (at < 0) return value;
  const scheme = value.indexOf('://');
  return scheme >= 0 && scheme < at
    ? `${value.slice(0, scheme + 3)}***${value.slice(at)}`
    : `***${value.slice(at)}`;
}
