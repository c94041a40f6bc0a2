import { Inject, Injectable } from '@nestjs/common';
import { TelemetryService } from '../telemetry/telemetry.service.js';
import { SearchService } from '../twins/search.service.js';
import { TwinsQueryService } from '../twins/twins-query.service.js';
import type { ThingDoc } from '../twins/twin.types.js';
import { ForecastingErrors } from './forecasting.errors.js';
import type { SeriesWindow } from './pipeline.js';
import { toGrid } from './series.js';
import { parentOf, targetOf, TargetProblem, WEATHER, type TargetSpec } from './target.js';

/** A thing's target with what its model may use: its parts (attributes/partOf) and its weather. */
export interface TargetContext {
  thingId: string;
  spec: TargetSpec;
  parts: string[];
  parent?: string;
}

/** At most this many parts feed a home's model; more would dilute a linear model's features. */
const MAX_PARTS = 16;
const SEARCH_FILTER = 'or(exists(features/energy/properties/power),exists(attributes/forecast))';

/**
 * Data loading and pre-processing for the forecasting pipeline: the twin (through the twins'
 * query service, as the platform itself) says what to forecast; the history comes from the
 * telemetry service, averaged per step and put on a gap-free grid.
 */
@Injectable()
export class ForecastData {
  constructor(
    @Inject(TelemetryService) private readonly telemetry: TelemetryService,
    @Inject(TwinsQueryService) private readonly twins: TwinsQueryService,
    @Inject(SearchService) private readonly search: SearchService,
  ) {}

  /** The thing's target and parts; throws forecasting:target.invalid when it has none. */
  async context(thingId: string): Promise<TargetContext> {
    const read = await this.twins.get(thingId, []);
    const doc = read.value as ThingDoc;
    let spec: TargetSpec | undefined;
    try {
      spec = targetOf(doc);
    } catch (err) {
      if (err instanceof TargetProblem) throw ForecastingErrors.targetInvalid(thingId, err.message);
      throw err;
    }
    if (!spec)
      throw ForecastingErrors.targetInvalid(
        thingId,
        'no features/energy/properties/power and no attributes/forecast',
      );
    return { thingId, spec, parts: await this.partsOf(thingId), parent: parentOf(doc) };
  }

  /** Things whose twins name `thingId` in attributes/partOf, in id order. */
  async partsOf(thingId: string): Promise<string[]> {
    const quoted = JSON.stringify(thingId);
    const found = await this.search.search({
      filter: `eq(attributes/partOf,${quoted})`,
      fields: 'thingId',
      option: `sort(+thingId),size(${MAX_PARTS})`,
    });
    return found.items.map((i) => String(i.thingId));
  }

  /** Every thing that has a target, a page at a time. */
  async *targets(): AsyncGenerator<string> {
    let cursor: string | undefined;
    do {
      const page = await this.search.search({
        filter: SEARCH_FILTER,
        fields: 'thingId',
        option: `sort(+thingId),size(200)${cursor ? `,cursor(${cursor})` : ''}`,
      });
      for (const item of page.items) yield String(item.thingId);
      cursor = page.cursor;
    } while (cursor);
  }

  /**
   * The history of the target on its grid, [toMs − days, toMs) with toMs on the grid, with the
   * thing's outdoor temperature (when it has any) and its parts' targets (when `topology`).
   */
  async window(ctx: TargetContext, toMs: number, days: number, topology: boolean): Promise<SeriesWindow> {
    const step = ctx.spec.stepMs;
    const to = Math.floor(toMs / step) * step;
    const earliest = to - days * 86_400_000;
    const raw = await this.telemetry.averages(
      { thingId: ctx.thingId, featureId: ctx.spec.featureId, path: ctx.spec.path },
      earliest,
      to,
      step,
    );
    // The window starts at the first reading: slots before it would be invented, not filled.
    const from = raw.length > 0 ? raw[0].ts : to;
    const grid = async (thingId: string, featureId: string, path: string) =>
      toGrid(await this.telemetry.averages({ thingId, featureId, path }, from, to, step), from, to, step);
    const y = toGrid(raw, from, to, step);
    const temp = await grid(ctx.thingId, WEATHER.featureId, WEATHER.path);
    const children: number[][] = [];
    const parts: string[] = [];
    if (topology) {
      for (const part of ctx.parts) {
        const s = await grid(part, ctx.spec.featureId, ctx.spec.path);
        // A part without history adds nothing but a column of NaN.
        if (s.values.length > 0 && !Number.isNaN(s.values[0])) {
          children.push(Array.from(s.values));
          parts.push(part);
        }
      }
    }
    return {
      startMs: from,
      stepMs: step,
      y: Array.from(y.values),
      temperature:
        temp.values.length > 0 && !Number.isNaN(temp.values[0]) ? Array.from(temp.values) : undefined,
      children,
      parts,
    };
  }
}
