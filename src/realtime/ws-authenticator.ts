import { Injectable } from '@nestjs/common';
import type { IncomingMessage } from 'node:http';

/** Who a WebSocket session acts for. */
export interface WsPrincipal {
  subject: string;
}

/**
 * The authentication seam of `/ws/2`: called on every upgrade request before the socket is
 * accepted. Return a principal to accept, undefined to refuse with 401 (the official Ditto client
 * needs a plain HTTP 401 for bad credentials). Provide another implementation for this token in
 * RealtimeModule to check credentials (`Authorization: Basic|Bearer`, `?access_token=`).
 */
export abstract class WsAuthenticator {
  abstract authenticate(req: IncomingMessage): Promise<WsPrincipal | undefined>;
}

/**
 * The default: everyone is accepted, as the REST API accepts everyone. The subject names the Basic
 * user when one is sent (the Node Ditto client always sends one), like Ditto's `nginx:<user>`.
 */
@Injectable()
export class AcceptAllAuthenticator extends WsAuthenticator {
  authenticate(req: IncomingMessage): Promise<WsPrincipal | undefined> {
    const header = req.headers.authorization ?? '';
    const basic = /^Basic\s+(\S+)$/i.exec(header);
    const user = basic ? Buffer.from(basic[1], 'base64').toString('utf8').split(':')[0] : '';
    return Promise.resolve({ subject: user ? `nginx:${user}` : 'anonymous' });
  }
}
