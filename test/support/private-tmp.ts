import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/**
 * Each jest run (`npm test`, the integration tier) gets a temporary directory of its own: the
 * global setup points TMPDIR into it before the test files start, so their `os.tmpdir()` and every
 * process they start write there, and the global teardown removes it whole. Without it one run of
 * `npm test` left about 150 directories, 2.7 GB, in /tmp (synthesized assemblies, tool bundles,
 * stub repositories): a test that forgets its mkdtemp, a process killed at a timeout. A run that
 * is itself killed leaves its directory; the next run removes every one whose owner is gone.
 */
const PREFIX = 'hello-web-jest-';
const OWNER_FILE = '.owner-pid';
const KEY = 'HELLO_WEB_JEST_TMP';
const BEFORE = 'HELLO_WEB_JEST_TMP_PARENT';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it exists, owned by someone else
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes the directories of earlier runs whose process is gone. */
function removeStale(base: string): void {
  for (const name of fs.readdirSync(base)) {
    if (!name.startsWith(PREFIX)) continue;
    const dir = path.join(base, name);
    let owner: number;
    try {
      owner = Number(fs.readFileSync(path.join(dir, OWNER_FILE), 'utf8'));
    } catch {
      // no owner file: a directory being made right now by another run, or not ours; keep it
      continue;
    }
    if (Number.isInteger(owner) && owner > 0 && !alive(owner))
      fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Global setup: TMPDIR is a fresh directory of this run's own. */
export function enterPrivateTmp(): void {
  if (process.env[KEY]) return;
  const base = os.tmpdir();
  removeStale(base);
  const dir = fs.mkdtempSync(path.join(base, PREFIX));
  fs.writeFileSync(path.join(dir, OWNER_FILE), String(process.pid));
  process.env[BEFORE] = process.env.TMPDIR ?? '';
  process.env[KEY] = dir;
  process.env.TMPDIR = dir;
}

/**
 * Global teardown: removes the run's directory, and what the tests left in it, whole. Only a
 * directory this process made: a jest run started by a test inherits the variables, not the
 * directory. A removal that fails (a process the tests left behind still writing there) is said,
 * never a failed run: the next run removes the directory once that process is gone.
 */
export function leavePrivateTmp(): void {
  const dir = process.env[KEY];
  if (!dir) return;
  let owner = '';
  try {
    owner = fs.readFileSync(path.join(dir, OWNER_FILE), 'utf8');
  } catch {
    // already gone
  }
  if (owner !== String(process.pid)) return;
  const before = process.env[BEFORE];
  if (before) process.env.TMPDIR = before;
  else delete process.env.TMPDIR;
  delete process.env[KEY];
  delete process.env[BEFORE];
  try {
    fs.rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
  } catch (e) {
    process.stderr.write(
      `jest: could not remove the run's temp dir ${dir} (${(e as Error).message}); the next run removes it\n`,
    );
  }
}
