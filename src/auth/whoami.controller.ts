import { Controller, Get, Req } from '@nestjs/common';
import type { Request } from 'express';
import { Errors } from '../common/errors.js';
import { authOf } from './auth-context.js';

/** Ditto's `GET /api/2/whoami`: the subjects the caller's credentials give. */
@Controller('api/2/whoami')
export class WhoAmIController {
  @Get()
  whoami(@Req() req: Request): { subjects: string[]; defaultSubject: string } {
    const auth = authOf(req);
    // Only reachable unauthenticated if the route were wrongly left open: fail closed.
    if (!auth) throw Errors.authenticationFailed();
    return { subjects: [...auth.subjects], defaultSubject: auth.defaultSubject };
  }
}
