import type { AuthContext } from '../auth/auth-context.js';
import { Errors } from '../common/errors.js';
import type { CheckPermissions } from '../policies/check-permissions.service.js';
import { DeviceErrors } from './devices.errors.js';

/**
 * A thing's device credentials are for whoever administers the thing (WRITE on `policy:/` of its
 * policy): 404 when the caller cannot see the thing at all (as Ditto hides what one cannot read),
 * 403 when it can see but not administer it.
 */
export async function requireAdmin(
  permissions: CheckPermissions,
  auth: AuthContext,
  thingId: string,
): Promise<void> {
  const access = await permissions.administersThing(auth, thingId);
  if (access === 'invisible') throw Errors.thingNotFound(thingId);
  if (access === 'denied') throw DeviceErrors.credentialsNotModifiable(thingId);
}
