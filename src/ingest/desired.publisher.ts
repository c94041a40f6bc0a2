import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { DomainError } from '../common/domain-error.js';
import { TwinEventBus } from '../journal/event-bus.js';
import type { JournalEntry } from '../journal/journal.types.js';
import { isJsonObject } from '../twins/model/json-pointer.js';
import { TwinsQueryService } from '../twins/twins-query.service.js';
import { IngestStats } from './ingest-stats.js';
import { MqttConnection } from './mqtt-connection.js';

/**
 * Publishes a thing's desired state on `things/{thingId}/desired` (QoS 1, retained, so a device
 * that connects later gets it at once) whenever a committed change may have touched it. It
 * always publishes the current state read back from the store, coalescing bursts per thing,
 * so a device never ends on an older desired state than the twin's.
 */
@Injectable()
export class DesiredPublisher implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('DesiredPublisher');
  private readonly dirty = new Set<string>();
  private running: Promise<void> | undefined;
  private unsubscribe: (() => void) | undefined;

  constructor(
    @Inject(TwinEventBus) private readonly bus: TwinEventBus,
    @Inject(TwinsQueryService) private readonly query: TwinsQueryService,
    @Inject(MqttConnection) private readonly mqtt: MqttConnection,
    @Inject(IngestStats) private readonly stats: IngestStats,
  ) {}

  onModuleInit(): void {
    this.unsubscribe = this.bus.subscribe((entries) => this.onEntries(entries));
  }

  async onApplicationShutdown(): Promise<void> {
    this.unsubscribe?.();
    await this.running;
  }

  private onEntries(entries: readonly JournalEntry[]): void {
    for (const e of entries) if (e.entity !== 'policy' && touchesDesired(e)) this.dirty.add(e.thingId);
    if (this.dirty.size > 0) {
      this.running ??= this.drain()
        .catch((err: unknown) =>
          this.logger.error(`publishing desired state failed: ${(err as Error).message}`),
        )
        .finally(() => (this.running = undefined));
    }
  }

  private async drain(): Promise<void> {
    while (this.dirty.size > 0) {
      const ids = [...this.dirty];
      this.dirty.clear();
      await Promise.all(ids.map((id) => this.publish(id)));
    }
  }

  private async publish(thingId: string): Promise<void> {
    let payload = '';
    try {
      const { value } = await this.query.get(thingId, ['features']);
      payload = JSON.stringify({ features: desiredOf(value) });
    } catch (err) {
      // No thing (or no features): clear the retained message rather than leave a stale one.
      if (!(err instanceof DomainError && err.status === 404)) throw err;
      payload = JSON.stringify({ features: {} });
      if (err.code === 'things:thing.notfound') payload = '';
    }
    await this.mqtt.publish(`things/${thingId}/desired`, payload, true);
    this.stats.desiredPublished++;
  }
}

function desiredOf(features: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (!isJsonObject(features)) return out;
  for (const [id, f] of Object.entries(features)) {
    if (isJsonObject(f) && f.desiredProperties !== undefined) out[id] = f.desiredProperties;
  }
  return out;
}

/**
 * Whether a journal entry may have changed desired properties: any change at or below a
 * `desiredProperties`, and a change of a whole thing, features or feature unless it is a merge
 * patch that neither names desiredProperties nor deletes a feature. Telemetry merges (only
 * `properties`) never qualify, so ingest traffic publishes nothing.
 */
export function touchesDesired(e: JournalEntry): boolean {
  const seg = e.path === '/' ? [] : e.path.slice(1).split('/');
  if (seg.length > 0 && seg[0] !== 'features') return false;
  if (seg.length >= 3) return seg[2] === 'desiredProperties';
  if (e.action === 'created') return seg.length === 0 ? hasDesired(e.value, 2) : true;
  if (e.action !== 'merged') return true;
  // Merge patch at /, /features or /features/<id>: look for desiredProperties or a deletion.
  const depth = 2 - seg.length;
  return e.value === null || hasDesired(e.value, depth) || deletesFeature(e.value, seg.length);
}

/** Whether `desiredProperties` appears `depth` levels below the features of the value. */
function hasDesired(value: unknown, depth: number): boolean {
  if (!isJsonObject(value)) return false;
  if (depth === 2) return hasDesired(value.features, 1);
  if (depth === 1) return Object.values(value).some((f) => hasDesired(f, 0));
  return 'desiredProperties' in value;
}

function deletesFeature(patch: unknown, level: number): boolean {
  if (!isJsonObject(patch)) return false;
  if (level === 0) return patch.features === null || deletesFeature(patch.features, 1);
  if (level === 1) return Object.values(patch).some((f) => f === null);
  return false;
}
