import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { REPO_ROOT } from '../support/paths';

/**
 * Issue 23: `npm test` names the configuration as every command does (`-c config=FILE` or
 * `--config FILE`, relative to where it was typed), and bad input is refused at once, exit 2,
 * before any gate runs (scripts/test-all.sh). Each case below ends before the first gate.
 */
const SCRIPT = path.join(REPO_ROOT, 'scripts', 'test-all.sh');

function npmTestArgs(args: readonly string[], invokedIn = REPO_ROOT, env: NodeJS.ProcessEnv = {}) {
  const res = spawnSync('bash', [SCRIPT, ...args], {
    cwd: REPO_ROOT,
    // INIT_CWD: what npm sets to the directory `npm test` was typed in
    env: { ...process.env, INIT_CWD: invokedIn, ...env },
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { code: res.status, stdout: res.stdout, stderr: res.stderr };
}

describe('npm test: naming the configuration', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'npm-test-args-'));
  const a = path.join(dir, 'a.json');
  const b = path.join(dir, 'b.json');
  beforeAll(() => {
    fs.writeFileSync(a, '{}');
    fs.writeFileSync(b, '{}');
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('--help shows both spellings, exit 0', () => {
    const res = npmTestArgs(['--help']);
    expect(res.code).toBe(0);
    expect(res.stdout).toContain('-c config=<file.json> | --config <file.json>');
  });

  test.each([
    [['--frobnicate'], 'unknown argument --frobnicate'],
    [['-c', 'config='], 'the configuration file name is empty'],
    [['--config='], 'the configuration file name is empty'],
    [['-c', 'other=x'], 'usage: npm test'],
    [['--config'], 'usage: npm test'],
  ])('%j is bad usage: exit 2, nothing run', (args, message) => {
    const res = npmTestArgs(args);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain(message);
    expect(res.stdout).not.toContain('==');
  });

  test('the configuration given twice, in either spelling, is refused', () => {
    const res = npmTestArgs(['-c', `config=${a}`, '--config', b]);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('give the configuration once');
  });

  test('a relative file is found from where npm test was typed; a missing one is refused before any gate', () => {
    const res = npmTestArgs(['--config', 'missing.json'], dir);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain(`no readable file ${path.join(dir, 'missing.json')}`);
    expect(res.stdout).not.toContain('==');
  });

  test('a DELIVERY_CONFIG that names no file is refused the same way', () => {
    const res = npmTestArgs([], REPO_ROOT, { DELIVERY_CONFIG: path.join(dir, 'gone.json') });
    expect(res.code).toBe(2);
    expect(res.stderr).toContain(
      `DELIVERY_CONFIG names no readable file: ${path.join(dir, 'gone.json')}`,
    );
  });

  test('through npm itself, from a subdirectory of the checkout', () => {
    const res = spawnSync('npm', ['test', '--silent', '--', '-c', 'config=nope.json'], {
      cwd: path.join(REPO_ROOT, 'test'),
      env: process.env,
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(res.status).toBe(2);
    expect(res.stderr).toContain(`no readable file ${path.join(REPO_ROOT, 'test', 'nope.json')}`);
  });
});
