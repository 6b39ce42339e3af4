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

// Input that JSON.parse would change without a word: a key given twice keeps only its last value,
// bytes that are not UTF-8 become U+FFFD, and an empty `-c config=` used to mean "no file". Each
// is refused, with the path of what would have changed.
describe('config input that would be silently changed', () => {
  /** Every problem of a file written into the repository, as "path: message". */
  function problemsOf(name: string, content: string | Buffer): string[] {
    fs.writeFileSync(path.join(repo, 'config', name), content);
    try {
      loadConfig({ contextValue: `config/${name}`, cwd: repo, repoRoot: repo });
    } catch (e) {
      if (e instanceof ConfigError) return e.problems.map((p) => `${p.path}: ${p.message}`);
      throw e;
    }
    throw new Error(`config/${name} was accepted`);
  }
  const valid = JSON.stringify(STACK_ENVIRONMENTS, null, 2);

  test('a key given twice is refused at its path, naming both lines', () => {
    const text = valid.replace(
      '"region": "eu-west-1"\n  },\n  "source"',
      '"region": "eu-west-1",\n    "region": "us-east-1"\n  },\n  "source"',
    );
    expect(text).not.toBe(valid);
    expect(problemsOf('dup-region.json', text)).toEqual([
      'pipeline.region: is given twice in config/dup-region.json (lines 4 and 5); JSON keeps only the last one: remove one of them',
    ]);
  });

  test('two preprod sections are refused, and every duplicate is reported at once', () => {
    const text =
      '{\n"preprod": {"account": "222222222222", "region": "eu-west-1"},\n' +
      valid.slice(1).replace('"min": 2,', '"min": 2, "min": 3,');
    expect(problemsOf('dup-preprod.json', text)).toEqual([
      expect.stringMatching(
        /^preprod: is given twice in config\/dup-preprod\.json \(lines 2 and \d+\)/,
      ),
      expect.stringMatching(/^preprod\.replicas\.min: is given twice/),
    ]);
  });

  test('a key spelt with an escape is the same key', () => {
    const text = valid.replace(
      '"region": "eu-west-1"\n  },\n  "source"',
      '"region": "eu-west-1", "\\u0072egion": "x"\n  },\n  "source"',
    );
    expect(problemsOf('dup-escaped.json', text)).toEqual([
      expect.stringMatching(/^pipeline\.region: is given twice/),
    ]);
  });

  test('the same key in different objects is fine', () => {
    expect(
      loadConfig({ contextValue: 'config/ok.json', cwd: repo, repoRoot: repo }).preprod.region,
    ).toBe('eu-west-1');
  });

  test('bytes that are not UTF-8 are refused at the string that holds them', () => {
    const text = valid.replace(
      '"region": "eu-west-1",\n    "replicas"',
      '"region": "eu-west-1",\n    "greeting": "Hallo XX",\n    "replicas"',
    );
    const bytes = Buffer.from(text, 'utf8');
    const at = bytes.indexOf('XX');
    bytes[at] = 0xc3; // a lead byte of a two-byte sequence ...
    bytes[at + 1] = 0x28; // ... followed by "(": not UTF-8; Latin-1 "Hallo Ã(" would have become "Hallo �("
    expect(problemsOf('latin1.json', bytes)).toEqual([
      expect.stringMatching(
        /^preprod\.greeting: holds bytes that are not UTF-8 \(line \d+\); save config\/latin1\.json as UTF-8$/,
      ),
    ]);
  });

  test('a U+FFFD written as such is valid UTF-8 and stays what it is', () => {
    const text = valid.replace(
      '"region": "eu-west-1",\n    "replicas"',
      '"region": "eu-west-1",\n    "greeting": "Hallo \ufffd",\n    "replicas"',
    );
    fs.writeFileSync(path.join(repo, 'config', 'fffd.json'), text);
    expect(
      loadConfig({ contextValue: 'config/fffd.json', cwd: repo, repoRoot: repo }).preprod.greeting,
    ).toBe('Hallo \ufffd');
  });

  test('an empty -c config= is refused instead of falling back to the placeholder accounts', () => {
    expect(() => loadConfig({ contextValue: '', cwd: repo, repoRoot: repo })).toThrow(ConfigError);
    try {
      loadConfig({ contextValue: '', cwd: repo, repoRoot: repo });
    } catch (e) {
      expect((e as ConfigError).problems).toEqual([
        {
          path: 'config',
          message:
            'is empty: give the path of a JSON file (-c config=config/my-org.json), or leave -c config out to use the built-in STACK_ENVIRONMENTS',
        },
      ]);
    }
    expect(() => loadConfig({ contextValue: '  ', cwd: repo, repoRoot: repo })).toThrow(
      /config: is empty/,
    );
  });

  test('leaving -c config out still means STACK_ENVIRONMENTS', () => {
    expect(loadConfig({ cwd: repo, repoRoot: repo }).pipeline.account).toBe('111111111111');
  });
});
