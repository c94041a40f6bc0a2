import { readFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, type TlsOptions } from 'node:tls';
import {
  Inject,
  Injectable,
  Logger,
  Optional,
  type OnApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import { Aedes, type AedesOptions, type AuthenticateError } from 'aedes';
import { ConfigService } from '../config/config.service.js';
import { PLATFORM_USERNAME } from '../devices/platform-login.js';
import {
  BROKER_ACCESS,
  BROKER_INTAKE,
  brokerOptions,
  type BrokerAccess,
  type BrokerIntake,
} from './broker-hooks.js';
import { limitPacketSize } from './mqtt-internals.js';

/**
 * Connections the kernel queues until the event loop accepts them (the kernel caps it at
 * net.core.somaxconn). Node's default of 511 overflows when a fleet reconnects at once (after a
 * restart): the dropped SYNs are retried by the devices' TCP only after 1, 3, 7, 15… s.
 */
const LISTEN_BACKLOG = 4096;

const STANDARD_PORT = 1883;
/**
 * Device connections held (unread) while the ingest starts; more are closed at once and retry.
 * A held socket costs a file descriptor and at most a socket buffer.
 */
const MAX_HELD_CONNECTIONS = 20_000;
/** CONNACK "not authorized" (aedes' AuthErrorCode is a const enum, not importable). */
const NOT_AUTHORIZED = 5;

/**
 * Where the platform's MQTT broker is. With MQTT_URL that broker is used; without it an
 * embedded Aedes broker starts inside the app (for development and single-node setups: its
 * sessions live in memory and end with the process).
 *
 * The embedded broker listens twice: on MQTT_PORT for devices (plain MQTT, or MQTT over TLS
 * with MQTT_TLS_CERT/MQTT_TLS_KEY, and client certificates with MQTT_TLS_CA), and on an
 * ephemeral loopback port for the platform's own clients, which only they may use. Devices are
 * not accepted before the ingest is ready to take their messages: a device connecting while the
 * app starts is held, its CONNECT unread, until acceptDevices() (the ingest's MQTT session is
 * up); nothing can be acknowledged to it before.
 */
@Injectable()
export class MqttBroker implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('MqttBroker');
  private aedes: Aedes | undefined;
  private readonly servers: Server[] = [];
  private brokerUrl: string | undefined;
  private internalUrl: string | undefined;
  /** The loopback connections of the platform's own clients. */
  private readonly internal = new WeakSet<object>();
  private accepting = false;
  private held: Socket[] = [];

  constructor(
    @Inject(ConfigService) private readonly config: ConfigService,
    @Optional() @Inject(BROKER_ACCESS) private readonly access?: BrokerAccess,
    @Optional() @Inject(BROKER_INTAKE) private readonly intake?: BrokerIntake,
  ) {}

  /** The URL devices connect to (set once the module has started). */
  get url(): string {
    if (!this.brokerUrl) throw new Error('the MQTT broker has not started yet');
    return this.brokerUrl;
  }

  /** The URL the platform's own clients connect to: the embedded broker's loopback port, else MQTT_URL. */
  get platformUrl(): string {
    if (!this.internalUrl) throw new Error('the MQTT broker has not started yet');
    return this.internalUrl;
  }

  /** Whether the broker runs inside this process (Aedes: MQTT 3.1.1, no shared subscriptions). */
  get embedded(): boolean {
    return this.aedes !== undefined;
  }

  /**
   * Whether devices' messages reach the ingest inside the broker's PUBLISH pipeline (BROKER_INTAKE,
   * acknowledged after commit) rather than through a subscription of the platform's client.
   */
  get takesDeviceMessages(): boolean {
    return this.embedded && this.intake?.authorizePublish !== undefined;
  }

  /** Called once the ingest is ready: devices held meanwhile are served, new ones at once. */
  acceptDevices(): void {
    if (!this.aedes || this.accepting) return;
    this.accepting = true;
    const held = this.held;
    this.held = [];
    for (const socket of held) if (!socket.destroyed) this.aedes.handle(socket);
    this.logger.log(`accepting devices on ${this.brokerUrl}${held.length ? ` (${held.length} waited)` : ''}`);
  }

  async onModuleInit(): Promise<void> {
    const external = this.config.get('MQTT_URL');
    if (external) {
      this.brokerUrl = external;
      this.internalUrl = external;
      return;
    }
    const tls = this.tlsOptions();
    const port = this.config.get('MQTT_PORT');
    // The schema defaults MQTT_PORT, so "set explicitly" shows in the environment or in a non-default value.
    const explicit = Boolean(process.env.MQTT_PORT) || port !== STANDARD_PORT;
    this.aedes = await Aedes.createBroker(this.options());
    const internalPort = await this.listen(
      createServer((s) => this.platformConnection(s)),
      0,
      '127.0.0.1',
    );
    this.internalUrl = `mqtt://127.0.0.1:${internalPort}`;
    const host = this.config.get('HOST');
    const devices = () =>
      tls
        ? createTlsServer(tls, (s) => this.deviceConnection(s))
        : createServer((s) => this.deviceConnection(s));
    let bound: number;
    try {
      bound = await this.listen(devices(), port, host);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || explicit) {
        await this.onApplicationShutdown();
        throw new Error(
          `MQTT_PORT: cannot start the embedded MQTT broker on ${host}:${port}: ${(err as Error).message}. ` +
            'Choose another MQTT_PORT, or set MQTT_URL to use the broker that holds the port.',
        );
      }
      bound = await this.listen(devices(), 0, host);
      this.logger.warn(
        `!!! port ${port} is taken (another MQTT broker?): the embedded MQTT broker listens on ${host}:${bound} instead. ` +
          `Devices must connect to port ${bound}; set MQTT_PORT to fix the port, or MQTT_URL to use the other broker. !!!`,
      );
    }
    const clientHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
    this.brokerUrl = `${tls ? 'mqtts' : 'mqtt'}://${clientHost.includes(':') ? `[${clientHost}]` : clientHost}:${bound}`;
    this.logger.log(
      `embedded MQTT broker (Aedes) listening on ${host}:${bound}${tls ? ' with TLS' : ''}` +
        `${tls?.requestCert ? ' (client certificates of MQTT_TLS_CA accepted)' : ''}; devices wait until the ingest is ready`,
    );
  }

  async onApplicationShutdown(): Promise<void> {
    const aedes = this.aedes;
    if (!aedes) return;
    for (const socket of this.held.splice(0)) socket.destroy();
    await new Promise<void>((ok) => aedes.close(() => ok()));
    await Promise.all(this.servers.splice(0).map((s) => new Promise<void>((ok) => s.close(() => ok()))));
  }

  /**
   * Aedes' options: the access and intake hooks, and the loopback port kept for the platform's
   * own clients (a device there is refused: it must come through MQTT_PORT, and not early).
   */
  private options(): AedesOptions {
    const options = brokerOptions(this.access, this.intake);
    const authenticate = options.authenticate;
    options.authenticate = (client, username, password, done) => {
      if (this.internal.has(client.conn) && username !== PLATFORM_USERNAME) {
        const err: AuthenticateError = Object.assign(new Error('the loopback port is the platform’s'), {
          returnCode: NOT_AUTHORIZED,
        });
        return done(err, null);
      }
      if (authenticate) authenticate(client, username, password, done);
      else done(null, true);
    };
    return options;
  }

  private platformConnection(socket: Socket): void {
    this.internal.add(socket);
    this.serve(socket);
  }

  private deviceConnection(socket: Socket): void {
    if (this.accepting) return this.serve(socket);
    if (this.held.length >= MAX_HELD_CONNECTIONS) {
      socket.destroy();
      return;
    }
    // Unread until acceptDevices(); a socket that errors or closes meanwhile is dropped.
    socket.on('error', () => socket.destroy());
    this.held.push(socket);
  }

  private serve(socket: Socket): void {
    const client = this.aedes!.handle(socket);
    const max = this.intake?.maxPacketBytes;
    if (max !== undefined) {
      limitPacketSize(client, max, (cmd) => {
        if (cmd === 'publish') this.intake?.packetRefused?.();
      });
    }
  }

  /** MQTT_TLS_*: the PEM files, read at boot so a wrong path fails the start, not a device. */
  private tlsOptions(): TlsOptions | undefined {
    const certFile = this.config.get('MQTT_TLS_CERT');
    const keyFile = this.config.get('MQTT_TLS_KEY');
    const caFile = this.config.get('MQTT_TLS_CA');
    if (!certFile || !keyFile) return undefined;
    const read = (name: string, file: string): Buffer => {
      try {
        return readFileSync(file);
      } catch (err) {
        throw new Error(
          `${name}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
        );
      }
    };
    const options: TlsOptions = {
      cert: read('MQTT_TLS_CERT', certFile),
      key: read('MQTT_TLS_KEY', keyFile),
    };
    if (caFile) {
      // A certificate is asked for, not required: devices without one sign in with their secret.
      // One that does not verify is refused at CONNECT (DeviceBrokerAccess), not ignored.
      Object.assign(options, {
        ca: read('MQTT_TLS_CA', caFile),
        requestCert: true,
        rejectUnauthorized: false,
      });
    }
    return options;
  }

  private listen(server: Server, port: number, host: string): Promise<number> {
    return new Promise((ok, fail) => {
      server.once('error', fail);
      server.listen({ port, host, backlog: LISTEN_BACKLOG }, () => {
        server.off('error', fail);
        server.on('error', (err) => this.logger.error(`embedded MQTT broker: ${err.message}`));
        this.servers.push(server);
        ok((server.address() as { port: number }).port);
      });
    });
  }
}
