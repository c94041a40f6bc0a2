import {
  DefaultTokenSupplier,
  NodeHttpBasicAuth,
  NodeHttpBearerAuth,
  NodeWebSocketBasicAuth,
  type AuthProvider,
} from '@eclipse-ditto/ditto-javascript-client-node';
import type { DittoSettings } from './ditto-settings.js';

/** A Ditto without authentication (a development setup): the client's builders still want one. */
const anonymous: AuthProvider = {
  authenticateWithUrl: (url) => url,
  authenticateWithHeaders: (headers) => headers,
};

export function httpAuth(settings: DittoSettings): AuthProvider {
  if (!settings.auth) return anonymous;
  if (settings.auth.kind === 'basic') {
    return NodeHttpBasicAuth.newInstance(settings.auth.username, settings.auth.password);
  }
  return NodeHttpBearerAuth.newInstance(new DefaultTokenSupplier(settings.auth.token));
}

/** Node's WebSocket client sends the credentials as headers on the upgrade, like HTTP. */
export function wsAuth(settings: DittoSettings): AuthProvider {
  if (!settings.auth) return anonymous;
  if (settings.auth.kind === 'basic') {
    return NodeWebSocketBasicAuth.newInstance(settings.auth.username, settings.auth.password);
  }
  return NodeHttpBearerAuth.newInstance(new DefaultTokenSupplier(settings.auth.token));
}
