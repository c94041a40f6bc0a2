/**
 * Whether a browser page of `origin` may open a WebSocket here. Browsers do not apply CORS to
 * WebSockets and send cookies and cached Basic credentials along, so a foreign page could act
 * for the user (cross-site WebSocket hijacking). Clients that are not browsers send no Origin.
 */
export function originAllowed(
  origin: string | undefined,
  host: string | undefined,
  allowed: string,
): boolean {
  if (origin === undefined) return true;
  const list = allowed
    .split(',')
    .map((o) => o.trim())
    .filter((o) => o !== '');
  if (list.includes('*')) return true;
  if (!URL.canParse(origin)) return false;
  const parsed = new URL(origin);
  // Parsed the same way, so a default port in the Host header (`example.com:80`) still matches.
  const own = host === undefined ? undefined : `${parsed.protocol}//${host}`;
  if (own !== undefined && URL.canParse(own) && new URL(own).origin === parsed.origin) return true;
  return list.some((o) => URL.canParse(o) && new URL(o).origin === parsed.origin);
}
