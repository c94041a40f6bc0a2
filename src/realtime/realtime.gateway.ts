import { Inject } from '@nestjs/common';
import { WebSocketGateway, type OnGatewayConnection, type OnGatewayInit } from '@nestjs/websockets';
import type { IncomingMessage } from 'node:http';
import type { WebSocket, WebSocketServer } from 'ws';
import { ConfigService } from '../config/config.service.js';
import { WsSessions } from './ws-sessions.js';

/** Room for the envelope around the largest thing a client may send. */
const ENVELOPE_OVERHEAD = 16 * 1024;

/**
 * Eclipse Ditto's WebSocket endpoint `/ws/2` on the `ws` adapter. Ditto's frames are plain text
 * control messages and Ditto Protocol JSON, not Nest's `{event, data}`, so the gateway only hands
 * each connection to a session; the upgrade is checked (limit, authentication) before it is accepted.
 */
@WebSocketGateway({ path: '/ws/2' })
export class RealtimeGateway implements OnGatewayInit<WebSocketServer>, OnGatewayConnection<WebSocket> {
  constructor(
    @Inject(WsSessions) private readonly sessions: WsSessions,
    @Inject(ConfigService) private readonly config: ConfigService,
  ) {}

  afterInit(server: WebSocketServer): void {
    // ws reads its options on every upgrade, so the hooks can be set once the server exists.
    server.options.maxPayload = this.config.get('THING_MAX_SIZE_BYTES') + ENVELOPE_OVERHEAD;
    server.options.verifyClient = (
      info: { req: IncomingMessage },
      done: Parameters<WsSessions['verify']>[1],
    ) => this.sessions.verify(info.req, done);
  }

  handleConnection(client: WebSocket, req: IncomingMessage): void {
    this.sessions.open(client, req);
  }
}
