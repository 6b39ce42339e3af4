import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { REPO_ROOT } from '../support/paths';

/**
 * A jest run leaves nothing in the machine's temp dir (test/support/private-tmp.ts): before, one
 * `npm test` left about 150 directories and 2.7 GB in /tmp. Shown on a real jest run, with the
 * project's global setup and teardown, of a test file that litters as the suite's files did.
 */
const JEST = path.join(REPO_ROOT, 'node_modules', 'jest', 'bin', 'jest.js');

describe('a jest run cleans up after its tests', () => {
  const outer = fs.mkdtempSync(path.join(os.tmpdir(), 'private-tmp-'));
  afterAll(() => fs.rmSync(outer, { recursive: true, force: true }));

  /** A real jest run of the test files in `fixtures`, with the project's global setup and teardown. */
  function runJest(fixtures: string, env: NodeJS.ProcessEnv): void {
    const config = {
      rootDir: REPO_ROOT,
      roots: [fixtures],
      testMatch: ['**/*.test.js'],
      transform: { '^.+\\.ts$': 'ts-jest' },
      globalSetup: '<rootDir>/test/support/global-setup.ts',
      globalTeardown: '<rootDir>/test/support/global-teardown.ts',
      cacheDirectory: path.join(outer, 'jest-cache'),
    };
    const res = spawnSync(
      process.execPath,
      [JEST, '--config', JSON.stringify(config), '--ci', '--runInBand'],
      { cwd: REPO_ROOT, env, encoding: 'utf8', timeout: 120_000 },
    );
    expect({ status: res.status, stderr: res.stderr }).toMatchObject({ status: 0 });
  }

  test('what its test files and their processes leave in the temp dir goes, and so does what a killed run left', () => {
    const machineTmp = path.join(outer, 'tmp');
    const fixtures = path.join(outer, 'fixtures');
    fs.mkdirSync(machineTmp);
    fs.mkdirSync(fixtures);
    const seen = path.join(outer, 'seen.json');
    // a test that forgets its mkdtemp, and a process it starts that writes a temp file
    fs.writeFileSync(
      path.join(fixtures, 'litter.test.js'),
      `const fs = require('node:fs'); const os = require('node:os'); const path = require('node:path');
       const { execFileSync } = require('node:child_process');
       test('litters', () => {
         const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'forgotten-'));
         fs.writeFileSync(path.join(dir, 'big'), 'x'.repeat(1024));
         const child = execFileSync('sh', ['-c', 'mktemp'], { encoding: 'utf8' }).trim();
         fs.writeFileSync(${JSON.stringify(seen)}, JSON.stringify({ dir, child }));
       });`,
    );
    // an earlier run killed before its teardown: its owner process is gone
    const dead = spawnSync('true').pid;
    const stale = path.join(machineTmp, 'hello-web-jest-killed');
    fs.mkdirSync(stale);
    fs.writeFileSync(path.join(stale, '.owner-pid'), String(dead));
    // a directory of another program, with the same prefix but no owner file: kept
    const foreign = path.join(machineTmp, 'hello-web-jest-foreign');
    fs.mkdirSync(foreign);

    // this run's own private dir is not the child run's
    const env: NodeJS.ProcessEnv = { ...process.env, TMPDIR: machineTmp };
    delete env.HELLO_WEB_JEST_TMP;
    runJest(fixtures, env);

    const { dir, child } = JSON.parse(fs.readFileSync(seen, 'utf8')) as {
      dir: string;
      child: string;
    };
    // the test and its process wrote inside the machine's temp dir (a directory of the run's own)
    expect(dir.startsWith(machineTmp + path.sep)).toBe(true);
    expect(child.startsWith(machineTmp + path.sep)).toBe(true);
    expect(fs.existsSync(dir)).toBe(false);
    expect(fs.existsSync(child)).toBe(false);
    expect(fs.readdirSync(machineTmp)).toEqual(['hello-web-jest-foreign']);
  });

  test('a jest run started by a test leaves the outer run its directory', () => {
    // this file runs inside the project's own run: its directory is the outer one
    const outerDir = process.env.HELLO_WEB_JEST_TMP as string;
    expect(outerDir).toBeTruthy();
    const fixtures = fs.mkdtempSync(path.join(os.tmpdir(), 'nested-fixtures-'));
    fs.writeFileSync(path.join(fixtures, 'ok.test.js'), "test('ok', () => {});");
    runJest(fixtures, process.env);
    expect(fs.existsSync(outerDir)).toBe(true);
    expect(fs.existsSync(fixtures)).toBe(true);
  });
});
