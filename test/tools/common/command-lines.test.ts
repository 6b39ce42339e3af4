import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { type BreakglassDeps, breakglassMain } from '../../../tools/operator/breakglass/main';
import { memoryOutput } from '../../../tools/common/output';
import { runCli } from '../../../tools/common/run';
import { type RollbackDeps, rollbackMain } from '../../../tools/operator/rollback/main';
import { main as smokeMain } from '../../../tools/pipeline/smoke-test/cli';
import { REPO_ROOT, TSX_CLI } from '../../support/paths';

/**
 * One command-line convention for every operator command (issue 13, "Command lines"): a flag
 * given twice is refused (exit 2) instead of silently taking the last value, before anything is
 * touched; the image gate already refuses it (test/tools/pipeline/image-gate/args.test.ts).
 */
function refusingBreakglassDeps() {
  const touched: string[] = [];
  const refuse = (what: string) => () => {
    touched.push(what);
    throw new Error(`${what} must not be used`);
  };
  const output = memoryOutput();
  const deps: BreakglassDeps = {
    clients: {
      s3: refuse('s3'),
      dynamodb: refuse('dynamodb'),
      sts: refuse('sts'),
      cloudFormation: refuse('cloudformation'),
      sns: refuse('sns'),
    },
    kubectl: () => {
      touched.push('kubectl');
      return Promise.resolve({ exitCode: 0 });
    },
    confirm: () => Promise.resolve(true),
    interactive: true,
    output,
    cwd: REPO_ROOT,
    now: () => new Date('2026-01-01T00:00:00Z'),
  };
  return { deps, output, touched };
}

describe('a repeated flag is refused by every command', () => {
  test.each([
    [
      [
        '--env',
        'preprod-eu-west-1',
        '--env',
        'prod-eu-west-1',
        '--image',
        'v2',
        '--reason',
        'INC-1',
      ],
      '--env is given twice',
    ],
    [
      ['--env', 'preprod-eu-west-1', '--image', 'v2', '--image=v3', '--reason', 'INC-1'],
      '--image is given twice',
    ],
    [
      ['--env', 'preprod-eu-west-1', '--image', 'v2', '--reason', 'INC-1', '--yes', '--yes'],
      '--yes is given twice',
    ],
  ])('breakglass %j', async (argv, message) => {
    const { deps, output, touched } = refusingBreakglassDeps();
    expect(await runCli('breakglass', () => breakglassMain(argv, deps), output)).toBe(2);
    expect(output.stderr).toContain(message);
    expect(touched).toEqual([]);
  });

  test('rollback --stage preprod --stage prod is refused, CodePipeline never asked', async () => {
    const output = memoryOutput();
    const asked: string[] = [];
    const deps: RollbackDeps = {
      codePipeline: (region) => {
        asked.push(region);
        throw new Error('CodePipeline must not be used');
      },
      confirm: () => Promise.resolve(true),
      interactive: false,
      sleep: () => Promise.resolve(undefined),
      now: () => 0,
      output,
      cwd: REPO_ROOT,
    };
    expect(
      await runCli(
        'rollback',
        () =>
          rollbackMain(
            ['--stage', 'preprod-eu-west-1', '--stage', 'prod-eu-west-1', '--yes'],
            deps,
          ),
        output,
      ),
    ).toBe(2);
    expect(output.stderr).toContain('--stage is given twice');
    expect(asked).toEqual([]);
  });

  test('smoke-test --url a --url b is refused', async () => {
    const errors: string[] = [];
    const spy = jest.spyOn(console, 'error').mockImplementation((m: string) => void errors.push(m));
    try {
      expect(
        await smokeMain([
          '--url',
          'http://127.0.0.1:1',
          '--url',
          'http://127.0.0.1:2',
          '--expect-version',
          'v1',
        ]),
      ).toBe(2);
    } finally {
      spy.mockRestore();
    }
    expect(errors.join('\n')).toContain('--url is given twice');
  });
});

describe('npm run manifests: bad --out-dir and --tag are usage errors, not stack traces or invalid images', () => {
  const run = (...args: string[]) =>
    spawnSync(
      process.execPath,
      [TSX_CLI, path.join(REPO_ROOT, 'tools', 'dev', 'manifests.ts'), ...args],
      {
        cwd: REPO_ROOT,
        encoding: 'utf8',
        timeout: 60000,
      },
    );

  test('--out-dir naming an existing file', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'manifests-bad-'));
    const file = path.join(dir, 'a-file');
    fs.writeFileSync(file, 'keep me');
    const r = run('--out-dir', file);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`--out-dir ${file} is a file, not a directory`);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(fs.readFileSync(file, 'utf8')).toBe('keep me');
    fs.rmSync(dir, { recursive: true });
  });

  test.each([['x y'], ['-bad'], ['a'.repeat(129)], ['tag\u001b[31m']])('--tag %j', (tag) => {
    const r = run('--env', 'preprod-eu-west-1', `--tag=${tag}`);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('is not a valid image tag');
    expect(r.stdout).toBe('');
    expect(r.stderr).not.toContain('\u001b');
  });

  test('--env given twice', () => {
    const r = run('--env', 'preprod-eu-west-1', '--env', 'prod-eu-west-1');
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--env is given twice');
    expect(r.stdout).toBe('');
  });
});
