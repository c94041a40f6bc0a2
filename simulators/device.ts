import { connect, type MqttClient } from 'mqtt';
import {
  desiredTopic,
  mergeDesired,
  parseDesired,
  QOS,
  statusTopic,
  STATUS_OFFLINE,
  STATUS_ONLINE,
  type Desired,
} from './contract.js';
import { commandFilters, handleCommand, patched, type CommandHost } from './commands.js';
import { FaultInjector, MALFORMED_KINDS, type FaultRates, type Outgoing } from './faults.js';
import type { Profile, SignalModel } from './profiles/index.js';
import type { Rng } from './rng.js';

/** What a device tells the fleet; the fleet keeps the counts. */
export interface DeviceEvents {
  connected(thingId: string, reconnect: boolean): void;
  /** The connection was lost (a forced drop or the network), not ended by the device. */
  disconnected(thingId: string): void;
  acknowledged(thingId: string, out: Outgoing): void;
  failed(thingId: string, out: Outgoing, error: Error): void;
  desired(thingId: string, understood: boolean): void;
}

export interface DeviceConfig {
  thingId: string;
  broker: string;
  profile: Profile;
  /** The device's own stream; signals, faults and drop times fork from it. */
  rng: Rng;
  faults: FaultRates;
  periodMs: number;
  /** Offset of this device's ticks within a period, so a fleet does not publish in bursts. */
  phaseMs: number;
  count?: number;
  disconnectEveryMs?: number;
  clean: boolean;
  username?: string;
  password?: string;
  /** Logs in as itself with its own secret (user name = thingId): publishes on its own topics only. */
  ownSecret?: boolean;
  connectTimeoutMs: number;
  reconnectPeriodMs: number;
  drainTimeoutMs: number;
}

/**
 * One simulated device: its own MQTT client with a Last Will, a signal model sampled on a
 * fixed schedule, and the device side of the desired-state contract. A reading's ts is its
 * scheduled time (never before the previous one), so a seed gives the same readings whatever
 * the timer jitter.
 */
export class SimulatedDevice {
  readonly thingId: string;
  /** Resolves once `count` readings were made and the device has stopped. */
  readonly finished: Promise<void>;
  private resolveFinished!: () => void;
  private client: MqttClient | null = null;
  private readonly model: SignalModel;
  private readonly injector: FaultInjector;
  private readonly scheduleRng: Rng;
  private desired: Desired = {};
  private seq = 0;
  private lastTs = 0;
  private firstTickAt = 0;
  private ticks = 0;
  private running = false;
  private everConnected = false;
  private tickTimer: NodeJS.Timeout | undefined;
  private dropTimer: NodeJS.Timeout | undefined;
  private pending = 0;
  private drained: (() => void)[] = [];
  private stopping: Promise<void> | null = null;
  private lastError: Error | null = null;
  private connectTimer: NodeJS.Timeout | undefined;
  /** Connected as far as this device knows, to tell a lost connection from a failed retry. */
  private up = false;
  /** What the commands of commands.ts may do with this device. */
  private readonly commandHost: CommandHost;

  constructor(
    private readonly config: DeviceConfig,
    private readonly events: DeviceEvents,
  ) {
    this.thingId = config.thingId;
    this.model = config.profile.create(config.rng.fork('model'));
    this.injector = new FaultInjector(
      config.thingId,
      config.faults,
      config.rng.fork('faults'),
      config.ownSecret ? MALFORMED_KINDS.filter((k) => k !== 'bad-topic') : MALFORMED_KINDS,
    );
    this.scheduleRng = config.rng.fork('schedule');
    this.finished = new Promise((resolve) => (this.resolveFinished = resolve));
    this.commandHost = {
      thingId: this.config.thingId,
      apply: (patch) => {
        if (!this.config.profile.understands(patch)) return false;
        this.desired = patched(this.desired, patch);
        if (this.running) this.emitReading(Date.now());
        return true;
      },
      status: () => ({
        seq: this.seq,
        uptimeSeconds:
          this.firstTickAt === 0 ? 0 : Math.max(0, Math.round((Date.now() - this.firstTickAt) / 1000)),
        desired: this.desired,
      }),
      // As a forced drop: no DISCONNECT, so the Last Will says offline; mqtt.js reconnects.
      reboot: () => setTimeout(() => this.client?.stream.destroy(), 100).unref(),
      publish: (topic, payload) => this.client?.publish(topic, payload, { qos: QOS }),
    };
  }

  /** Connects; resolves on the first CONNACK, rejects when none came within the timeout. */
  start(): Promise<void> {
    const { thingId, broker, clean, username, password, connectTimeoutMs, reconnectPeriodMs } = this.config;
    return new Promise((resolve, reject) => {
      this.connectTimer = setTimeout(() => {
        const cause = this.lastError ? `: ${this.lastError.message}` : '';
        reject(new Error(`${thingId} could not connect to ${broker} within ${connectTimeoutMs} ms${cause}`));
      }, connectTimeoutMs);
      const client = connect(broker, {
        clientId: thingId,
        clean,
        // A device signs in as itself: with a password but no user name, its thingId is the name.
        username: username ?? (password === undefined ? undefined : thingId),
        password,
        reconnectPeriod: reconnectPeriodMs,
        connectTimeout: Math.min(connectTimeoutMs, 30_000),
        keepalive: 30,
        will: { topic: statusTopic(thingId), payload: Buffer.from(STATUS_OFFLINE), qos: QOS, retain: true },
      });
      this.client = client;
      client.on('connect', () => {
        clearTimeout(this.connectTimer);
        this.onConnect();
        resolve();
      });
      client.on('close', () => {
        // 'close' also follows every failed reconnect attempt; count only lost connections.
        if (this.up && this.running) this.events.disconnected(thingId);
        this.up = false;
      });
      // Without a listener an 'error' event would throw; the reconnect logic retries anyway.
      client.on('error', (err) => {
        this.lastError = err;
      });
      client.on('message', (topic, payload) => this.onMessage(topic, payload));
    });
  }

  /** Stops sampling, delivers what is held back, waits for acknowledgements, then DISCONNECTs. */
  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  /** Ends the connection at once, e.g. when the fleet could not start. */
  async kill(): Promise<void> {
    this.stopTimers();
    await this.client?.endAsync(true);
  }

  private onConnect(): void {
    const reconnect = this.everConnected;
    this.up = true;
    this.events.connected(this.thingId, reconnect);
    void this.statusPublish(STATUS_ONLINE);
    if (reconnect) return;
    this.everConnected = true;
    this.running = true;
    // mqtt.js resubscribes on reconnects when the broker kept no session; the first
    // subscription is ours. Subscribing also makes the broker send the retained desired state.
    this.client?.subscribe(desiredTopic(this.thingId), { qos: QOS }, (err) => {
      if (err) this.lastError = err;
    });
    // Live messages (commands.ts): a broker without the inbox grants refuses this, nothing else.
    this.client?.subscribe(commandFilters(this.thingId), { qos: QOS }, () => undefined);
    this.firstTickAt = Date.now() + Math.round(this.config.phaseMs);
    this.lastTs = this.firstTickAt - Math.round(this.config.periodMs);
    this.scheduleTick();
    this.scheduleDrop(true);
  }

  private onMessage(topic: string, payload: Buffer): void {
    if (handleCommand(this.commandHost, topic, payload)) return;
    // An empty retained message only clears the desired state on the broker.
    if (topic !== desiredTopic(this.thingId) || payload.length === 0) return;
    const incoming = parseDesired(payload);
    if (!incoming) {
      this.events.desired(this.thingId, false);
      return;
    }
    this.desired = mergeDesired(this.desired, incoming);
    const understood = this.config.profile.understands(incoming);
    this.events.desired(this.thingId, understood);
    // Report the new state at once rather than at the next tick, as the contract asks.
    if (understood && this.running) this.emitReading(Date.now());
  }

  private scheduleTick(): void {
    // Epoch milliseconds are integers in the contract; rounding the offset keeps the long-run rate.
    const due = this.firstTickAt + Math.round(this.ticks * this.config.periodMs);
    this.tickTimer = setTimeout(() => {
      if (!this.running) return;
      this.ticks++;
      this.emitReading(due);
      if (this.running) this.scheduleTick();
    }, due - Date.now());
  }

  private scheduleDrop(first: boolean): void {
    const every = this.config.disconnectEveryMs;
    if (every === undefined) return;
    // The first drop is spread over the fleet so that Last Wills do not all fire together.
    const delay = first ? every * (0.5 + this.scheduleRng.next()) : every;
    this.dropTimer = setTimeout(() => {
      if (!this.running) return;
      // Destroying the socket sends no DISCONNECT: the broker publishes the Last Will, and
      // mqtt.js reconnects after reconnectPeriod.
      if (this.client?.connected) this.client.stream.destroy();
      this.scheduleDrop(false);
    }, delay);
  }

  private emitReading(at: number): void {
    const ts = Math.max(at, this.lastTs + 1);
    const features = this.model.step((ts - this.lastTs) / 1000, ts, this.desired);
    this.lastTs = ts;
    this.seq++;
    for (const out of this.injector.plan({ ts, seq: this.seq, features })) this.publish(out);
    if (this.config.count !== undefined && this.seq >= this.config.count) {
      void this.stop().then(this.resolveFinished);
    }
  }

  private publish(out: Outgoing): void {
    if (!this.client) return;
    this.pending++;
    // QoS 1: the callback runs on PUBACK; while the connection is down mqtt.js keeps the
    // message and sends it after reconnecting.
    this.client.publish(out.topic, out.payload, { qos: QOS }, (err) => {
      if (err) this.events.failed(this.thingId, out, err);
      else this.events.acknowledged(this.thingId, out);
      if (--this.pending === 0) for (const done of this.drained.splice(0)) done();
    });
  }

  private statusPublish(status: string): Promise<void> {
    return new Promise((resolve) => {
      this.client?.publish(statusTopic(this.thingId), status, { qos: QOS, retain: true }, () => resolve());
    });
  }

  private stopTimers(): void {
    this.running = false;
    clearTimeout(this.connectTimer);
    clearTimeout(this.tickTimer);
    clearTimeout(this.dropTimer);
  }

  private async shutdown(): Promise<void> {
    this.stopTimers();
    const client = this.client;
    if (!client) return;
    for (const out of this.injector.flush()) this.publish(out);
    const { drainTimeoutMs } = this.config;
    await withTimeout(
      this.pending === 0 ? Promise.resolve() : new Promise<void>((r) => this.drained.push(r)),
      drainTimeoutMs,
    );
    if (client.connected) {
      // A graceful DISCONNECT suppresses the Last Will, so say offline ourselves.
      await withTimeout(this.statusPublish(STATUS_OFFLINE), drainTimeoutMs);
      await client.endAsync(!client.connected);
    } else {
      await client.endAsync(true);
    }
  }
}

/** Waits for the promise, but not longer than ms; the caller carries on either way. */
function withTimeout(promise: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
