import { Module } from '@nestjs/common';
import { AuthService } from './auth.service.js';
import { GeneratedUserRepository } from './generated-user.repository.js';
import { RequestRate } from './request-rate.js';
import { WhoAmIController } from './whoami.controller.js';

/**
 * Authentication of every entry point. HTTP requests pass authMiddleware (installed first in
 * bootstrap), WebSocket upgrades the realtime module's authenticator; both ask AuthService.
 */
@Module({
  providers: [AuthService, GeneratedUserRepository, RequestRate],
  controllers: [WhoAmIController],
  exports: [AuthService, RequestRate],
})
export class AuthModule {}
