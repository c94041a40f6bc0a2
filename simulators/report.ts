import type { FleetProgress, FleetSummary } from './fleet.js';
import type { BackfillProgress, BackfillSummary } from './homes-fleet.js';

/** The live progress line and the final summary of the CLI, as plain text. */

const number = new Intl.NumberFormat('en-US');

export function formatDuration(ms: number): string {
  const total = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const mm = String(m).padStart(2, '0');
  const ss = String(s).padStart(2, '0');
  return h > 0 ? `${h}h${mm}m${ss}s` : `${m}m${ss}s`;
}

export function formatProgress(p: FleetProgress): string {
  return [
    `connected ${p.connected}/${p.devices}`,
    `sent ${number.format(p.sent)}`,
    `${p.ratePerSecond.toFixed(1)} msg/s`,
    formatDuration(p.elapsedMs),
  ].join(' | ');
}

export function formatSummary(s: FleetSummary): string {
  const malformedKinds = Object.entries(s.malformedByKind)
    .filter(([, n]) => n > 0)
    .map(([kind, n]) => `${kind} ${n}`)
    .join(', ');
  const seconds = s.durationMs / 1000;
  const rows: [string, string][] = [
    ['profile', `${s.profile}, ${s.devices} devices, seed ${s.seed}`],
    ['stopped by', `${s.stoppedBy} after ${formatDuration(s.durationMs)}`],
    ['sent', `${number.format(s.sent)} (${seconds > 0 ? (s.sent / seconds).toFixed(1) : '0'} msg/s)`],
    ['valid readings', number.format(s.valid)],
    ['duplicates', number.format(s.duplicates)],
    ['out-of-order', number.format(s.outOfOrder)],
    ['malformed', `${number.format(s.malformed)}${malformedKinds ? ` (${malformedKinds})` : ''}`],
    ['disconnects', `${number.format(s.disconnects)} (${number.format(s.reconnects)} reconnects)`],
    ['desired applied', `${number.format(s.desiredApplied)} (${number.format(s.desiredIgnored)} ignored)`],
    ['unacknowledged', number.format(s.failed)],
  ];
  const width = Math.max(...rows.map(([label]) => label.length));
  return rows.map(([label, value]) => `${label.padEnd(width)}  ${value}`).join('\n');
}

export function formatBackfillProgress(p: BackfillProgress): string {
  const share = p.total > 0 ? (100 * p.acknowledged) / p.total : 100;
  return [
    `${p.things} devices`,
    `acknowledged ${number.format(p.acknowledged)}/${number.format(p.total)} (${share.toFixed(1)} %)`,
    `${p.ratePerSecond.toFixed(0)} msg/s`,
    formatDuration(p.elapsedMs),
  ].join(' | ');
}

export function formatBackfillSummary(s: BackfillSummary): string {
  const seconds = s.durationMs / 1000;
  const rows: [string, string][] = [
    ['profile', `homes, ${s.homes} homes (${s.things} devices), seed ${s.seed}`],
    [
      'history',
      `${new Date(s.from).toISOString()} to ${new Date(s.to).toISOString()}, every ${s.stepMinutes} min`,
    ],
    ['stopped by', `${s.stoppedBy} after ${formatDuration(s.durationMs)}`],
    [
      'acknowledged',
      `${number.format(s.acknowledged)} of ${number.format(s.total)} (${seconds > 0 ? (s.acknowledged / seconds).toFixed(1) : '0'} msg/s)`,
    ],
    ['unacknowledged', number.format(s.failed)],
  ];
  const width = Math.max(...rows.map(([label]) => label.length));
  return rows.map(([label, value]) => `${label.padEnd(width)}  ${value}`).join('\n');
}
