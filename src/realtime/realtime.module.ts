import { Module } from '@nestjs/common';
import { JournalModule } from '../journal/journal.module.js';
import { TwinsModule } from '../twins/twins.module.js';
import { RealtimeGateway } from './realtime.gateway.js';
import { SseStreams } from './sse-streams.js';
import { ThingStates } from './thing-states.js';
import { AcceptAllAuthenticator, WsAuthenticator } from './ws-authenticator.js';
import { TwinCommandExecutor } from './ws-commands.js';
import { WsSessions } from './ws-sessions.js';

/** Push of twin changes: Ditto's WebSocket `/ws/2`, SSE on the things paths, the live dashboard. */
@Module({
  imports: [JournalModule, TwinsModule],
  providers: [
    // The authentication seam: replace this provider to check credentials on the upgrade.
    { provide: WsAuthenticator, useClass: AcceptAllAuthenticator },
    ThingStates,
    TwinCommandExecutor,
    WsSessions,
    SseStreams,
    RealtimeGateway,
  ],
  exports: [WsSessions, SseStreams],
})
export class RealtimeModule {}
