import { Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import type { IncomingMessage } from 'node:http';
import { DomainError } from '../common/domain-error.js';
import { ConfigService } from '../config/config.service.js';
import { authOf } from './auth-context.js';

/**
 * Who administers the platform unless configured otherwise: the first AUTH_USERS user, else the
 * generated user `ditto` (the one `npm start` prints).
 */
export function primarySubject(config: ConfigService): string {
  const firstUser = (config.get('AUTH_USERS') ?? '').split(',')[0]?.split(':')[0];
  return `nginx:${firstUser || 'ditto'}`;
}

/** The subjects allowed on operator endpoints: AUTH_OPERATOR_SUBJECTS, else primarySubject. */
export function operatorSubjects(config: ConfigService): string[] {
  const listed = config.get('AUTH_OPERATOR_SUBJECTS');
  return listed ? listed.split(',') : [primarySubject(config)];
}

/**
 * Operator endpoints show the whole platform (every device's dead letters, the sync's failures),
 * which no thing policy covers: like Ditto's devops routes they belong to configured operators.
 * The anonymous demo mode, which enforces nothing, lets everyone through.
 */
@Injectable()
export class OperatorGuard implements CanActivate {
  private readonly operators: ReadonlySet<string>;

  constructor(@Inject(ConfigService) config: ConfigService) {
    this.operators = new Set(operatorSubjects(config));
  }

  canActivate(ctx: ExecutionContext): boolean {
    const auth = authOf(ctx.switchToHttp().getRequest<IncomingMessage>());
    if (!auth) {
      throw new DomainError(401, 'gateway:authentication.failed', 'Unauthorized.', 'Authenticate first.', {
        'WWW-Authenticate': 'Basic realm="ditto"',
      });
    }
    if (auth.unrestricted || auth.subjects.some((s) => this.operators.has(s))) return true;
    throw new DomainError(
      403,
      'gateway:authorization.insufficient',
      'The requester is not an operator of this platform.',
      'Sign in as one of the subjects in AUTH_OPERATOR_SUBJECTS.',
    );
  }
}
