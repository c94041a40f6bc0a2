import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module.js';
import { JournalModule } from '../journal/journal.module.js';
import { MessagesModule } from '../messages/messages.module.js';
import { PoliciesModule } from '../policies/policies.module.js';
import { TwinsModule } from '../twins/twins.module.js';
import { HistoricalStreams } from './historical-feed.js';
import { RealtimeGateway } from './realtime.gateway.js';
import { PolicyEnforcers } from './policy-enforcers.js';
import { SseStreams } from './sse-streams.js';
import { ThingStates } from './thing-states.js';
import { AuthServiceAuthenticator, WsAuthenticator } from './ws-authenticator.js';
import { TwinCommandExecutor } from './ws-commands.js';
import { WsSessions } from './ws-sessions.js';
import { RealtimeStats } from './realtime-stats.js';

/** Push of twin changes: Ditto's WebSocket `/ws/2`, SSE on the things paths, the live dashboard. */
@Module({
  imports: [AuthModule, JournalModule, TwinsModule, PoliciesModule, MessagesModule],
  providers: [
    // The authentication seam: the upgrade is checked by the same AuthService as HTTP requests.
    { provide: WsAuthenticator, useClass: AuthServiceAuthenticator },
    ThingStates,
    PolicyEnforcers,
    TwinCommandExecutor,
    WsSessions,
    HistoricalStreams,
    SseStreams,
    RealtimeGateway,
    RealtimeStats,
  ],
  exports: [WsSessions, SseStreams, RealtimeStats],
})
export class RealtimeModule {}
