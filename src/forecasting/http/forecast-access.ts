import { Inject, Injectable } from '@nestjs/common';
import { enforced, type AuthContext } from '../../auth/auth-context.js';
import { DomainError } from '../../common/domain-error.js';
import { Errors } from '../../common/errors.js';
import { CheckPermissions } from '../../policies/check-permissions.service.js';
import { FORECAST_FEATURE } from '../target.js';

const FORECAST_PATH = ['features', FORECAST_FEATURE];

/**
 * The thing's policy decides: reading the registry, events and forecasts needs READ on the
 * thing's `forecast` feature (the target property for its forecast and evaluation, as for its
 * history); training, pinning and rolling back need WRITE there. Whoever may not read gets
 * Ditto's 404 for the thing, whoever may read but not write a 403.
 */
@Injectable()
export class ForecastAccess {
  constructor(@Inject(CheckPermissions) private readonly permissions: CheckPermissions) {}

  async read(auth: AuthContext, thingId: string, path: readonly string[] = FORECAST_PATH): Promise<void> {
    if (!(await this.mayRead(auth, thingId, path))) throw Errors.thingNotFound(thingId);
  }

  mayRead(auth: AuthContext, thingId: string, path: readonly string[] = FORECAST_PATH): Promise<boolean> {
    return this.permissions.mayReadThing(auth, thingId, path);
  }

  async write(auth: AuthContext, thingId: string): Promise<void> {
    if (!enforced(auth)) return;
    const granted = await this.permissions.check(auth, {
      write: { resource: `thing:/${FORECAST_PATH.join('/')}`, entityId: thingId, hasPermissions: ['WRITE'] },
    });
    if (granted.write) return;
    if (!(await this.mayRead(auth, thingId))) throw Errors.thingNotFound(thingId);
    throw new DomainError(
      403,
      'things:feature.notmodifiable',
      `The Feature with ID '${FORECAST_FEATURE}' on the Thing with ID '${thingId}' could not be modified as the requester had insufficient permissions to modify it ('WRITE' is required).`,
      'Training, pinning and rolling back a model write the forecast: grant WRITE on thing:/features/forecast.',
    );
  }
}
