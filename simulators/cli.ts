import { CliError, parseCliArgs, USAGE } from './args.js';
import { runFleet } from './fleet.js';
import { formatProgress, formatSummary } from './report.js';

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
  const { options } = command;
  const target = `${options.profile} ×${options.devices} @ ${options.rate}/s → ${options.broker}`;
  process.stderr.write(`simulate: ${target}\n`);
  try {
    const summary = await runFleet({
      ...options,
      signal: controller.signal,
      progressIntervalMs: 250,
      onProgress: (p) => {
        if (tty) process.stderr.write(`\r${formatProgress(p)}\x1b[K`);
        else if (Date.now() - lastLogged >= 5000) {
          lastLogged = Date.now();
          process.stderr.write(`${formatProgress(p)}\n`);
        }
      },
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

process.exitCode = await main(process.argv.slice(2));
// Every client has ended; should a stray handle remain, do not hang after the summary.
setTimeout(() => process.exit(), 2000).unref();
