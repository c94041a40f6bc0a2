import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module.js';
import { DevicesModule } from '../devices/devices.module.js';
import { IngestModule } from '../ingest/ingest.module.js';
import { PoliciesModule } from '../policies/policies.module.js';
import { MessagesController } from './http/messages.controller.js';
import { MessageBus } from './message-bus.js';
import { MessagesService } from './messages.service.js';

/**
 * Ditto's live messages between clients and devices: HTTP inbox/outbox/claim, the MQTT topics
 * devices answer on (its own non-shared subscription per replica, see MessageBus), and the
 * listeners the `/ws/2` sessions register (START-SEND-MESSAGES).
 */
@Module({
  imports: [AuthModule, PoliciesModule, IngestModule, DevicesModule],
  controllers: [MessagesController],
  providers: [MessageBus, MessagesService],
  exports: [MessagesService],
})
export class MessagesModule {}
