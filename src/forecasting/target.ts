import { parseStep } from '../telemetry/time.js';
import { isJsonObject } from '../twins/model/json-pointer.js';

/** What is forecast for a thing: one property series, its horizon and its step. */
export interface TargetSpec {
  featureId: string;
  /** Property path inside the feature's properties, `/`-separated: `power`, `phases/l1`. */
  path: string;
  /** `<featureId>/<path>`, the key of the target in the registry and on the twin. */
  target: string;
  horizon: string;
  step: string;
  horizonMs: number;
  stepMs: number;
}

export const DEFAULT_TARGET = 'energy/power';
export const DEFAULT_HORIZON = 'PT24H';
export const DEFAULT_STEP = 'PT15M';
export const MAX_HORIZON_MS = 7 * 86_400_000;
/** The twin's outdoor temperature, a feature of the thing itself. */
export const WEATHER = { featureId: 'weather', path: 'outdoorTemperature' } as const;
/** Where appliance and sub-meter twins name the thing they are part of. */
export const PART_OF_ATTRIBUTE = 'partOf';
export const FORECAST_ATTRIBUTE = 'forecast';
/** The feature the forecast is written to. */
export const FORECAST_FEATURE = 'forecast';

const KEY = /^[A-Za-z0-9_.:-]{1,64}$/;

export class TargetProblem extends Error {}

/**
 * The target of a thing: `attributes/forecast` ({target, horizon, step}, each optional, or
 * `{"enabled": false}` to turn forecasting off) or, without it, `energy/power` when the thing
 * has that property. Undefined when the thing is not forecast. Throws TargetProblem for an
 * attribute that cannot be understood.
 */
export function targetOf(doc: {
  attributes?: Record<string, unknown>;
  features?: Record<string, unknown>;
}): TargetSpec | undefined {
  const attr = doc.attributes?.[FORECAST_ATTRIBUTE];
  if (attr === undefined) {
    const energy = doc.features?.energy;
    const has = isJsonObject(energy) && isJsonObject(energy.properties) && 'power' in energy.properties;
    return has ? parseTarget({}) : undefined;
  }
  if (!isJsonObject(attr)) throw new TargetProblem('attributes/forecast must be an object');
  if (attr.enabled === false) return undefined;
  return parseTarget(attr);
}

export function parseTarget(attr: Record<string, unknown>): TargetSpec {
  const target = text(attr.target, DEFAULT_TARGET, 'target');
  const horizon = text(attr.horizon, DEFAULT_HORIZON, 'horizon');
  const step = text(attr.step, DEFAULT_STEP, 'step');
  const [featureId, ...rest] = target.split('/');
  if (!KEY.test(featureId) || rest.length === 0 || rest.length > 8 || !rest.every((k) => KEY.test(k)))
    throw new TargetProblem(`target '${target}' must be <featureId>/<property path>, e.g. energy/power`);
  const stepMs = duration(step, 'step');
  const horizonMs = duration(horizon, 'horizon');
  if (stepMs < 60_000 || stepMs > 86_400_000 || 86_400_000 % stepMs !== 0)
    throw new TargetProblem(`step '${step}' must divide a day and be between PT1M and P1D`);
  if (horizonMs < stepMs || horizonMs > MAX_HORIZON_MS || horizonMs % stepMs !== 0)
    throw new TargetProblem(`horizon '${horizon}' must be a multiple of the step, at most P7D`);
  return { featureId, path: rest.join('/'), target, horizon, step, horizonMs, stepMs };
}

/** The thing a twin is part of (attributes/partOf), if it names a plausible one. */
export function parentOf(doc: { attributes?: Record<string, unknown> }): string | undefined {
  const p = doc.attributes?.[PART_OF_ATTRIBUTE];
  return typeof p === 'string' && p.length > 0 && p.length <= 256 ? p : undefined;
}

function text(v: unknown, fallback: string, name: string): string {
  if (v === undefined) return fallback;
  if (typeof v !== 'string' || v.length > 64) throw new TargetProblem(`${name} must be a short string`);
  return v;
}

function duration(v: string, name: string): number {
  const parsed = parseStep(v);
  if ('problem' in parsed) throw new TargetProblem(`${name} '${v}': ${parsed.problem}`);
  return parsed.ms;
}
