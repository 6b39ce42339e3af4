import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { REPO_ROOT, TSX_CLI } from '../support/paths';

/** The pipeline's gate and smoke-test steps run these bundles with plain `node`, no npm ci. */
test('npm run bundle:tools writes self-contained tools into the cloud assembly that run with plain node', () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'bundle-'));
  const b = spawnSync(
    process.execPath,
    [TSX_CLI, path.join(REPO_ROOT, 'scripts', 'bundle-tools.ts'), out],
    { cwd: REPO_ROOT, encoding: 'utf8', timeout: 120000 },
  );
  expect(b.status).toBe(0);
  expect(fs.readdirSync(path.join(out, 'tools')).sort()).toEqual([
    'breakglass-check.cjs',
    'change-report.cjs',
    'image-backfill.cjs',
    'image-gate.cjs',
    'smoke-test.cjs',
  ]);
  // run from an empty directory: nothing next to the bundle to lean on
  const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'empty-'));
  for (const tool of [
    'breakglass-check',
    'change-report',
    'image-backfill',
    'image-gate',
    'smoke-test',
  ]) {
    const r = spawnSync(process.execPath, [path.join(out, 'tools', `${tool}.cjs`), '--help'], {
      cwd,
      encoding: 'utf8',
    });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/usage/i);
  }
  const bad = spawnSync(
    process.execPath,
    [path.join(out, 'tools', 'smoke-test.cjs'), '--url', 'nope', '--expect-version', 'x'],
    { cwd, encoding: 'utf8' },
  );
  expect(bad.status).toBe(2);
});
