import { createServer, type Server } from 'node:net';
import {
  Inject,
  Injectable,
  Logger,
  Optional,
  type OnApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import { Aedes } from 'aedes';
import { ConfigService } from '../config/config.service.js';
import {
  BROKER_ACCESS,
  BROKER_INTAKE,
  brokerOptions,
  type BrokerAccess,
  type BrokerIntake,
} from './broker-hooks.js';

const STANDARD_PORT = 1883;

/**
 * Where the platform's MQTT broker is. With MQTT_URL that broker is used; without it an
 * embedded Aedes broker starts inside the app (for development and single-node setups: its
 * sessions live in memory and end with the process), and the ingest connects to it over TCP
 * exactly as it would to any broker.
 */
@Injectable()
export class MqttBroker implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('MqttBroker');
  private aedes: Aedes | undefined;
  private server: Server | undefined;
  private brokerUrl: string | undefined;

  constructor(
    @Inject(ConfigService) private readonly config: ConfigService,
    @Optional() @Inject(BROKER_ACCESS) private readonly access?: BrokerAccess,
    @Optional() @Inject(BROKER_INTAKE) private readonly intake?: BrokerIntake,
  ) {}

  /** The URL the app's own MQTT client connects to (set once the module has started). */
  get url(): string {
    if (!this.brokerUrl) throw new Error('the MQTT broker has not started yet');
    return this.brokerUrl;
  }

  /** Whether the broker runs inside this process (Aedes: MQTT 3.1.1, no shared subscriptions). */
  get embedded(): boolean {
    return this.aedes !== undefined;
  }

  async onModuleInit(): Promise<void> {
    const external = this.config.get('MQTT_URL');
    if (external) {
      this.brokerUrl = external;
      return;
    }
    const port = this.config.get('MQTT_PORT');
    // The schema defaults MQTT_PORT, so "set explicitly" shows in the environment or in a non-default value.
    const explicit = Boolean(process.env.MQTT_PORT) || port !== STANDARD_PORT;
    this.aedes = await Aedes.createBroker(brokerOptions(this.access, this.intake));
    const host = this.config.get('HOST');
    let bound: number;
    try {
      bound = await this.listen(port, host);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || explicit) {
        this.aedes.close();
        throw new Error(
          `MQTT_PORT: cannot start the embedded MQTT broker on ${host}:${port}: ${(err as Error).message}. ` +
            'Choose another MQTT_PORT, or set MQTT_URL to use the broker that holds the port.',
        );
      }
      bound = await this.listen(0, host);
      this.logger.warn(
        `!!! port ${port} is taken (another MQTT broker?): the embedded MQTT broker listens on ${host}:${bound} instead. ` +
          `Devices must connect to port ${bound}; set MQTT_PORT to fix the port, or MQTT_URL to use the other broker. !!!`,
      );
    }
    const clientHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
    this.brokerUrl = `mqtt://${clientHost.includes(':') ? `[${clientHost}]` : clientHost}:${bound}`;
    this.logger.log(`embedded MQTT broker (Aedes) listening on ${host}:${bound}`);
  }

  async onApplicationShutdown(): Promise<void> {
    const server = this.server;
    const aedes = this.aedes;
    if (!aedes) return;
    await new Promise<void>((ok) => aedes.close(() => ok()));
    if (server) await new Promise<void>((ok) => server.close(() => ok()));
  }

  private listen(port: number, host: string): Promise<number> {
    const aedes = this.aedes!;
    return new Promise((ok, fail) => {
      const server = createServer((socket) => aedes.handle(socket));
      server.once('error', fail);
      server.listen(port, host, () => {
        server.off('error', fail);
        server.on('error', (err) => this.logger.error(`embedded MQTT broker: ${err.message}`));
        this.server = server;
        ok((server.address() as { port: number }).port);
      });
    });
  }
}
