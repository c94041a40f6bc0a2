import type { IncomingMessage, Server, ServerResponse } from 'node:http';

/**
 * Lets a stopping platform answer the HTTP requests it has accepted. Nest's close destroys the
 * modules (and with them the database pools) before it closes the HTTP server, so a request
 * still running then failed with a 500, and one arriving on a kept-alive connection meanwhile
 * too: under a rolling restart, clients saw errors for work the platform had taken on. `drain`
 * stops accepting connections first and waits for what is in flight, bounded.
 */
export class HttpDrain {
  private readonly open = new Set<ServerResponse>();
  private draining = false;
  private settled?: () => void;

  constructor(private readonly server: Server) {
    // Before the application's own listener, which may answer at once.
    server.prependListener('request', (_req: IncomingMessage, res: ServerResponse) => {
      // A request on a connection kept alive: answered, and the client told to go elsewhere.
      if (this.draining) res.setHeader('Connection', 'close');
      this.open.add(res);
      res.once('close', () => {
        this.open.delete(res);
        if (this.draining && this.idle()) this.settled?.();
      });
    });
  }

  /** Requests being answered, streams (SSE) left out: they end only when the client goes. */
  get inFlight(): number {
    let n = 0;
    for (const res of this.open) if (!isStream(res)) n++;
    return n;
  }

  /**
   * Stops accepting connections, closes the idle ones, and resolves once every request but the
   * streams has been answered, or after `ms` at most (what is still running then fails as
   * before). The server's own close completes later, with the application's.
   */
  async drain(ms: number): Promise<void> {
    this.draining = true;
    // Answers still to come end their connections, so those clients too go elsewhere next.
    for (const res of this.open) if (!res.headersSent) res.setHeader('Connection', 'close');
    if (this.server.listening) this.server.close();
    this.server.closeIdleConnections();
    if (this.idle()) return;
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((done) => {
      this.settled = done;
      timer = setTimeout(done, ms);
    });
    clearTimeout(timer);
    this.settled = undefined;
  }

  private idle(): boolean {
    return this.inFlight === 0;
  }
}

function isStream(res: ServerResponse): boolean {
  return String(res.getHeader('content-type') ?? '').startsWith('text/event-stream');
}
