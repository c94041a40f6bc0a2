import { DomainError } from '../common/domain-error.js';

const QUERY_HELP =
  'from and to are ISO 8601 instants or epoch milliseconds (from before to, at most 31 days apart); limit is 1 to 1000.';

/** The errors of the forecasting feature; codes in Ditto's `<area>:<what>.<kind>` style. */
export const ForecastingErrors = {
  queryInvalid: (message: string) => new DomainError(400, 'forecasting:query.invalid', message, QUERY_HELP),
  targetInvalid: (thingId: string, why: string) =>
    new DomainError(
      400,
      'forecasting:target.invalid',
      `The thing '${thingId}' has no usable forecast target: ${why}.`,
      'Give the thing features/energy/properties/power, or attributes/forecast {"target": "<feature>/<property>", "horizon": "PT24H", "step": "PT15M"}.',
    ),
  modelNotFound: (id: string) =>
    new DomainError(
      404,
      'forecasting:model.notfound',
      `The model '${id.slice(0, 64)}' was not found.`,
      'List the models of a thing with GET /api/2/forecasting/models?thingId=<thingId>.',
    ),
  forecastNotFound: (thingId: string, target: string) =>
    new DomainError(
      404,
      'forecasting:forecast.notfound',
      `No forecast of '${target}' exists for the thing '${thingId}'.`,
      'Forecasts appear once a model is trained (POST /api/2/forecasting/models/train) or the scheduler ran.',
    ),
  trainingFailed: (thingId: string, why: string) =>
    new DomainError(
      422,
      'forecasting:training.failed',
      `The model of '${thingId}' could not be trained: ${why}.`,
      'Check that the target has enough history (at least three days at its step).',
    ),
  trainingBusy: (thingId: string) =>
    new DomainError(
      409,
      'forecasting:training.busy',
      `The model of '${thingId}' is being trained right now.`,
      'Retry when that training has finished.',
    ),
  queueFull: (thingId: string) =>
    new DomainError(
      503,
      'forecasting:queue.full',
      `The forecast workers' queue is full: the work on '${thingId}' was not queued.`,
      'Retry later; the operator can raise FORECAST_QUEUE_MAX or FORECAST_WORKERS.',
    ),
  rollbackUnavailable: (thingId: string) =>
    new DomainError(
      409,
      'forecasting:rollback.unavailable',
      `The thing '${thingId}' has no earlier model version to roll back to.`,
      'Pin a version explicitly with POST /api/2/forecasting/models/{id}/pin.',
    ),
  disabled: () =>
    new DomainError(
      503,
      'forecasting:disabled',
      'Forecasting is turned off on this installation (FORECAST_ENABLED=false).',
      'Ask the operator to enable it.',
    ),
};
