import { Inject, Injectable } from '@nestjs/common';
import type { AuthContext } from '../auth/auth-context.js';
import { parseFields } from '../twins/thing-view.js';
import type { Preconditions, TwinChange } from '../twins/twin.types.js';
import { TwinsQueryService } from '../twins/twins-query.service.js';
import { TwinsService } from '../twins/twins.service.js';
import type { ProtocolCommand } from '../protocol/twin-commands.js';

export interface CommandResult {
  status: number;
  value?: unknown;
  /** The journal seq of the change a write made. */
  seq?: string;
}

/**
 * Runs Ditto Protocol twin commands through the same services as REST (the one write path, origin
 * 'ws'), with Ditto's statuses: 200 for a retrieve, 201 with the value when a write created the
 * thing or the path, else 204. Errors are the services' DomainErrors.
 */
@Injectable()
export class TwinCommandExecutor {
  constructor(
    @Inject(TwinsService) private readonly twins: TwinsService,
    @Inject(TwinsQueryService) private readonly query: TwinsQueryService,
  ) {}

  /** Enforced for `auth` exactly as the same request over REST. */
  async execute(cmd: ProtocolCommand, auth: AuthContext): Promise<CommandResult> {
    const base = {
      thingId: cmd.thingId,
      path: cmd.segments,
      origin: 'ws' as const,
      auth,
      correlationId: cmd.correlationId,
      preconditions: preconditionsOf(cmd),
    };
    switch (cmd.action) {
      case 'retrieve': {
        const read = await this.query.get(
          cmd.thingId,
          cmd.segments,
          parseFields(cmd.fields),
          base.preconditions,
          auth,
        );
        return { status: 200, value: read.value };
      }
      case 'create':
        return written(
          await this.twins.apply({ ...base, type: 'create', value: cmd.hasValue ? cmd.value : {} }),
        );
      case 'modify':
        return written(await this.twins.apply({ ...base, type: 'modify', value: cmd.value }));
      case 'merge':
        return written(await this.twins.apply({ ...base, type: 'merge', value: cmd.value }));
      case 'delete':
        return written(await this.twins.apply({ ...base, type: 'delete' }));
    }
  }
}

function written(change: TwinChange): CommandResult {
  // No entry when nothing changed (a merge whose every leaf was stale): no event to suppress.
  const seq = change.entry?.seq;
  return change.status === 201 ? { status: 201, value: change.value, seq } : { status: 204, seq };
}

function preconditionsOf(cmd: ProtocolCommand): Preconditions {
  return {
    ifMatch: cmd.headers['if-match'] || undefined,
    ifNoneMatch: cmd.headers['if-none-match'] || undefined,
  };
}
