// `npm start`: compiles only when a source changed since the last build, then runs the app in
// this same process (no second Node start-up). `npm run build` always asks tsc.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = new URL('..', import.meta.url).pathname;
/** Written after every successful build; its mtime is what the sources are compared with. */
const STAMP = join(ROOT, 'dist', '.start-build-stamp');
/** What tsconfig.build.json compiles, and what changes its output. */
const INPUTS = [
  'src',
  'migrations',
  'simulators',
  'bench',
  'tsconfig.json',
  'tsconfig.build.json',
  'package-lock.json',
];

/**
 * The newest mtime below a path; directories count too, so added and deleted files show.
 * @param {string} path
 * @returns {number}
 */
function newest(path) {
  let stat;
  try {
    stat = statSync(path);
  } catch {
    return 0;
  }
  if (!stat.isDirectory()) return stat.mtimeMs;
  let max = stat.mtimeMs;
  for (const entry of readdirSync(path)) max = Math.max(max, newest(join(path, entry)));
  return max;
}

function builtAt() {
  try {
    return statSync(STAMP).mtimeMs;
  } catch {
    return -1;
  }
}

const changed = Math.max(...INPUTS.map((p) => newest(join(ROOT, p))));
if (changed > builtAt()) {
  const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  const build = spawnSync(process.execPath, [tsc, '-b', 'tsconfig.build.json'], {
    cwd: ROOT,
    stdio: 'inherit',
  });
  if (build.status !== 0) process.exit(build.status ?? 1);
  writeFileSync(STAMP, `${new Date().toISOString()}\n`);
}
await import(join(ROOT, 'dist', 'src', 'main.js'));
