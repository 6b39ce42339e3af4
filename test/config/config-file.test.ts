import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ConfigError, STACK_ENVIRONMENTS, loadConfig } from '../../lib/config';
import { MAX_CONFIG_FILE_BYTES } from '../../lib/config/config-file';

// `-c config=<file>`: the path is checked (real path inside the repository, a regular file of
// bounded size, a name safe for the pipeline's shell command) before a byte is read, and a
// refused file's content never appears in the message.

let repo: string;
let outside: string;
beforeAll(() => {
  repo = fs.mkdtempSync(path.join(os.tmpdir(), 'cfg-repo-'));
  outside = fs.mkdtempSync(path.join(os.tmpdir(), 'cfg-outside-'));
  fs.mkdirSync(path.join(repo, 'config'));
  fs.writeFileSync(path.join(repo, 'config', 'ok.json'), JSON.stringify(STACK_ENVIRONMENTS));
  fs.writeFileSync(path.join(outside, 'secret.json'), 'SECRET-CONTENT-root:x:0:0');
});
afterAll(() => {
  fs.rmSync(repo, { recursive: true, force: true });
  fs.rmSync(outside, { recursive: true, force: true });
});

/** The problem message for a context value, run from the repository root. */
function refusal(contextValue: string): string {
  try {
    loadConfig({ contextValue, cwd: repo, repoRoot: repo });
  } catch (e) {
    if (e instanceof ConfigError) return e.message;
    throw e;
  }
  throw new Error(`${contextValue} was accepted`);
}

test('a file inside the repository is used, and its path is remembered for the pipeline', () => {
  expect(loadConfig({ contextValue: 'config/ok.json', cwd: repo, repoRoot: repo }).configFile).toBe(
    'config/ok.json',
  );
  expect(
    loadConfig({ contextValue: './config/../config/ok.json', cwd: repo, repoRoot: repo })
      .configFile,
  ).toBe('config/ok.json');
});

test('/etc/passwd is refused as outside the repository, and none of its content is shown', () => {
  const message = refusal('/etc/passwd');
  expect(message).toMatch(/config: \/etc\/passwd is outside the repository/);
  expect(message).not.toMatch(/root:/);
});

test('a file outside is refused without its content, even when it is not JSON', () => {
  const message = refusal(path.join(outside, 'secret.json'));
  expect(message).toMatch(/is outside the repository/);
  expect(message).not.toMatch(/SECRET/);
});

test('a symlink inside the repository that points outside is refused (it would dangle in CodeBuild)', () => {
  fs.symlinkSync(path.join(outside, 'secret.json'), path.join(repo, 'config', 'link.json'));
  const message = refusal('config/link.json');
  expect(message).toMatch(
    /link\.json is outside the repository .*\(it resolves to .*secret\.json\)/,
  );
  expect(message).not.toMatch(/SECRET/);
});

test('a symlink to /dev/zero is refused at once, not read until memory runs out', () => {
  fs.symlinkSync('/dev/zero', path.join(repo, 'config', 'zero.json'));
  expect(refusal('config/zero.json')).toMatch(/zero\.json is outside the repository/);
});

test('a FIFO is refused at once instead of waiting for a writer', () => {
  const fifo = path.join(repo, 'config', 'fifo.json');
  execFileSync('mkfifo', [fifo]);
  const started = Date.now();
  expect(refusal('config/fifo.json')).toMatch(/fifo\.json is not a regular file/);
  expect(Date.now() - started).toBeLessThan(2000);
});

test('a directory is refused as not a regular file', () => {
  expect(refusal('config')).toMatch(/config is not a regular file/);
});

test('a file larger than the limit is refused before it is read', () => {
  const big = path.join(repo, 'config', 'big.json');
  fs.writeFileSync(big, `{"x":"${'a'.repeat(MAX_CONFIG_FILE_BYTES)}"}`);
  expect(refusal('config/big.json')).toMatch(
    new RegExp(
      `big\\.json is ${MAX_CONFIG_FILE_BYTES + 8} bytes; a config file may be at most ${MAX_CONFIG_FILE_BYTES} bytes`,
    ),
  );
});

test('a file that is not JSON is reported by line and column, without quoting it', () => {
  fs.writeFileSync(path.join(repo, 'config', 'bad.json'), '{\n  "pipeline": SECRET-TOKEN\n}');
  const message = refusal('config/bad.json');
  expect(message).toMatch(/config\/bad\.json is not valid JSON/);
  expect(message).not.toMatch(/SECRET/);
});

test.each([
  ['a space', 'config/my config.json'],
  ['a semicolon', 'config/x;reboot.json'],
  ['a dollar sign', 'config/$(id).json'],
  ['a quote', "config/it's.json"],
  ['a newline', 'config/a\nb.json'],
])(
  "a path with %s is refused: it would reach the pipeline's synth shell command",
  (_name, name) => {
    fs.writeFileSync(path.join(repo, name), JSON.stringify(STACK_ENVIRONMENTS));
    expect(refusal(name)).toMatch(
      /may hold only letters, digits, "\.", "_", "-" and "\/" between names/,
    );
  },
);
