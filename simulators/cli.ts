import { CliError, parseCliArgs, USAGE, type CliCommand } from './args.js';
import { DEFAULT_NAMESPACE } from './contract.js';
import { runFleet } from './fleet.js';
import { homesThingIds, runHomesBackfill, writeTopology } from './homes-fleet.js';
import { fleetThingIds, provisionFleet, readCredentialsFile } from './provision.js';
import { formatBackfillProgress, formatBackfillSummary, formatProgress, formatSummary } from './report.js';

/**
 * `npm run simulate -- …`: runs a simulated fleet with a live progress line on stderr and
 * prints a summary on stdout. Ctrl-C stops the devices gracefully (a second Ctrl-C exits at once).
 */
async function main(argv: string[]): Promise<number> {
  let command;
  try {
    command = parseCliArgs(argv, process.env);
  } catch (err) {
    if (!(err instanceof CliError)) throw err;
    const lines = err.message.split('\n').map((line) => `simulate: ${line}\n`);
    process.stderr.write(`${lines.join('')}Run 'npm run simulate -- --help' for the options.\n`);
    return 2;
  }
  if (command.kind === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }

  const controller = new AbortController();
  const onSigint = (): void => {
    if (controller.signal.aborted) process.exit(130);
    process.stderr.write('\nstopping… (Ctrl-C again to quit at once)\n');
    controller.abort();
  };
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigint);

  // In a terminal the line is redrawn in place; in a log, a line every few seconds is enough.
  const tty = process.stderr.isTTY;
  let lastLogged = 0;
  const show = (line: string): void => {
    if (tty) process.stderr.write(`\r${line}\x1b[K`);
    else if (Date.now() - lastLogged >= 5000) {
      lastLogged = Date.now();
      process.stderr.write(`${line}\n`);
    }
  };
  if (command.kind === 'homes') {
    try {
      return await runHomes(command, controller.signal, show, tty);
    } catch (err) {
      if (tty) process.stderr.write('\n');
      process.stderr.write(`simulate: ${err instanceof Error ? err.message : String(err)}\n`);
      return 1;
    } finally {
      process.off('SIGINT', onSigint);
      process.off('SIGTERM', onSigint);
    }
  }
  const { options } = command;
  const target = `${options.profile} ×${options.devices} @ ${options.rate}/s → ${options.broker}`;
  process.stderr.write(`simulate: ${target}\n`);
  try {
    // Devices log in as themselves: provisioned now over the platform's API, or from a file.
    const source = command.credentials;
    let credentials: Record<string, string> | undefined;
    if (source?.kind === 'file') credentials = readCredentialsFile(source.path);
    if (source?.kind === 'api') {
      const ids = fleetThingIds(
        options.namespace ?? DEFAULT_NAMESPACE,
        options.profile,
        options.first ?? 1,
        options.devices,
      );
      credentials = await provisionFleet(source.api, source.user, ids);
      process.stderr.write(`simulate: provisioned ${ids.length} devices at ${source.api}\n`);
    }
    const summary = await runFleet({
      ...options,
      ...(credentials ? { credentials } : {}),
      signal: controller.signal,
      progressIntervalMs: 250,
      onProgress: (p) => show(formatProgress(p)),
    });
    if (tty) process.stderr.write('\r\x1b[K');
    const { readings: _unrecorded, ...printable } = summary;
    process.stdout.write(command.json ? `${JSON.stringify(printable)}\n` : `${formatSummary(summary)}\n`);
    return summary.failed > 0 ? 1 : 0;
  } catch (err) {
    if (tty) process.stderr.write('\n');
    process.stderr.write(`simulate: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  } finally {
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigint);
  }
}

const span = (days: number): string =>
  days >= 1 ? `${Number(days.toFixed(2))} days` : `${Number((days * 24).toFixed(2))} hours`;

/** `--profile homes --backfill …`: provision, set the topology, send the history. */
async function runHomes(
  command: Extract<CliCommand, { kind: 'homes' }>,
  signal: AbortSignal,
  show: (line: string) => void,
  tty: boolean,
): Promise<number> {
  const { options } = command;
  process.stderr.write(
    `simulate: homes ×${options.homes}, ${span(options.days)} every ${options.stepMinutes} min → ${options.broker}\n`,
  );
  const source = command.credentials;
  let credentials: Record<string, string> | undefined;
  if (source?.kind === 'file') credentials = readCredentialsFile(source.path);
  if (source?.kind === 'api') {
    const ids = homesThingIds(options);
    credentials = await provisionFleet(source.api, source.user, ids);
    process.stderr.write(`simulate: provisioned ${ids.length} devices at ${source.api}\n`);
  }
  const summary = await runHomesBackfill({
    ...options,
    ...(credentials ? { credentials } : {}),
    signal,
    progressIntervalMs: 250,
    onProgress: (p) => show(formatBackfillProgress(p)),
    // The twins exist once provisioned; their topology is set before the history arrives.
    ...(source?.kind === 'api'
      ? { beforeSend: (things) => writeTopology(source.api, source.user, things) }
      : {}),
  });
  if (tty) process.stderr.write('\r\x1b[K');
  if (source?.kind !== 'api') {
    process.stderr.write('simulate: without --api the twins get no topology attributes (partOf)\n');
  }
  process.stdout.write(command.json ? `${JSON.stringify(summary)}\n` : `${formatBackfillSummary(summary)}\n`);
  const incomplete = summary.stoppedBy === 'done' && summary.acknowledged < summary.total;
  return summary.failed > 0 || incomplete ? 1 : 0;
}

process.exitCode = await main(process.argv.slice(2));
// Every client has ended; should a stray handle remain, do not hang after the summary.
setTimeout(() => process.exit(), 2000).unref();
