import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { COMMANDS } from '../../../bin/commands';
import { CONFIG_ENV_VAR, chooseConfig } from '../../../lib/config';
import { EXIT_CODE_TABLE, exitCodeHelp } from '../../../tools/common/errors';
import { memoryOutput } from '../../../tools/common/output';
import { runCli } from '../../../tools/common/run';
import { main as diffMain } from '../../../tools/dev/diff';
import { breakglassMain } from '../../../tools/operator/breakglass/main';
import { driftMain } from '../../../tools/operator/drift/drift';
import { nodeUpdatesMain } from '../../../tools/operator/node-updates/main';
import { preflightMain } from '../../../tools/operator/preflight/main';
import { rollbackMain } from '../../../tools/operator/rollback/main';
import { rollbackGuardMain } from '../../../tools/pipeline/rollback-guard/cli';
import { REPO_ROOT } from '../../support/paths';

/**
 * One contract for every command (issue 23): the same exit-code table in every `--help` and in
 * docs/runbooks/README.md, the same ways to name the configuration (-c config=, --config,
 * DELIVERY_CONFIG, cdk.json's context "config"), and `--json` on every command that reports.
 * Commands run through the real entry point (`npx delivery`, bin/delivery.cjs) where that matters.
 */

/** The commands that read the configuration, and those that report (and so take --json). */
const TAKES_CONFIG = [
  'preflight',
  'rollback',
  'breakglass',
  'node-updates',
  'manifests',
  'rollback-guard',
  'drift',
  'diff',
];
const REPORTS = [
  'diff',
  'drift',
  'breakglass-check',
  'change-report',
  'rollback-guard',
  'preflight',
  'rollback',
  'breakglass',
  'node-updates',
  'image-gate',
  'image-backfill',
];

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** `npx delivery <argv>`, as an operator runs it: the bin entry with the project's Node first on the PATH. */
function delivery(
  argv: readonly string[],
  o: { env?: Record<string, string>; cwd?: string } = {},
): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(REPO_ROOT, 'bin', 'delivery.cjs'), ...argv], {
      cwd: o.cwd ?? REPO_ROOT,
      env: {
        PATH: `${path.join(REPO_ROOT, 'node_modules', '.bin')}:${process.env.PATH ?? ''}`,
        HOME: process.env.HOME ?? '',
        // nothing here may reach AWS
        AWS_ENDPOINT_URL: 'http://127.0.0.1:9',
        AWS_ACCESS_KEY_ID: 'x',
        AWS_SECRET_ACCESS_KEY: 'y',
        ...o.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 90000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

test('every command of tools/operator and tools/pipeline, and manifests and diff, is an npx delivery command', () => {
  const clis = ['operator', 'pipeline'].flatMap((part) =>
    fs
      .readdirSync(path.join(REPO_ROOT, 'tools', part), { withFileTypes: true })
      .filter((d) => d.isDirectory() && fs.existsSync(path.join(d.parentPath, d.name, 'cli.ts')))
      .map((d) => d.name),
  );
  expect(Object.keys(COMMANDS).sort()).toEqual([...clis, 'manifests', 'diff'].sort());
});

describe('--help: the same exit-code table everywhere', () => {
  const helps = new Map<string, Run>();
  beforeAll(async () => {
    // side by side: each is a Node start and a tsx compile
    const names = Object.keys(COMMANDS);
    const runs = await Promise.all(names.map((n) => delivery([n, '--help'])));
    names.forEach((n, i) => helps.set(n, runs[i]));
    helps.set('', await delivery(['--help']));
  }, 180000);

  test.each(['', ...Object.keys(COMMANDS)])('npx delivery %s --help', (name) => {
    const r = helps.get(name)!;
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    expect(r.stdout).toContain(exitCodeHelp());
    expect(r.stdout).toMatch(new RegExp(`^Usage: npx delivery ${name || '<command>'}`));
    if (TAKES_CONFIG.includes(name)) {
      expect(r.stdout).toContain('-c config=<file>, --config <file>');
      expect(r.stdout).toContain(`$${CONFIG_ENV_VAR}, then cdk.json's context "config"`);
    }
    if (REPORTS.includes(name)) expect(r.stdout).toMatch(/^ {2}--json +print one JSON document/m);
  });

  test('the commands whose --help offers the config forms, or --json, are the ones this test checks', () => {
    const offering = (flag: string) =>
      [...helps.entries()].filter(([n, r]) => n !== '' && r.stdout.includes(flag)).map(([n]) => n);
    expect(offering('-c config=<file>, --config <file>').sort()).toEqual([...TAKES_CONFIG].sort());
    expect(offering('\n  --json ').sort()).toEqual([...REPORTS].sort());
  });

  test('docs/runbooks/README.md shows the same table', () => {
    const text = fs.readFileSync(path.join(REPO_ROOT, 'docs', 'runbooks', 'README.md'), 'utf8');
    const section = text.slice(text.indexOf('## Exit codes'));
    const rows = [...section.matchAll(/^\| `(\d+)` \| (.+) \|$/gm)].map((m) => ({
      code: m[1],
      meaning: m[2],
    }));
    expect(rows).toEqual(EXIT_CODE_TABLE);
    // and names every command that takes --json
    const listed = /With `--json`, a command that reports \(([^)]+)\)/.exec(
      section.replace(/\n/g, ' '),
    );
    expect(listed?.[1].split(/,\s*/).sort()).toEqual([...REPORTS].sort());
  });
});

describe('--json: one JSON document on stdout, also when the command stops with an error', () => {
  test.each(REPORTS)(
    'npx delivery %s --json --no-such-flag: exit 2, the error as JSON',
    async (name) => {
      const r = await delivery([name, '--json', '--no-such-flag']);
      expect(r.code).toBe(2);
      expect(JSON.parse(r.stdout)).toMatchObject({
        command: name,
        exitCode: 2,
        error: expect.stringContaining('unknown option --no-such-flag') as unknown,
      });
      expect(r.stderr).toContain('unknown option --no-such-flag');
    },
    60000,
  );
});

describe('the configuration: -c config=, --config, DELIVERY_CONFIG and cdk.json, the same for every command', () => {
  // A repository of its own (a config file must lie inside the repository), with a config file
  // of a distinctive mistake per source: the message shows which file the command read.
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'contract-'));
  for (const name of ['flag', 'env', 'cdkjson'])
    fs.writeFileSync(
      path.join(root, `${name}.json`),
      JSON.stringify({ pipeline: { account: '111111111111', region: 'eu-west-1' }, [name]: 1 }),
    );
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));
  const withCdkJson = (config?: string) =>
    fs.writeFileSync(
      path.join(root, 'cdk.json'),
      JSON.stringify({ app: 'x', context: config === undefined ? {} : { config } }),
    );

  const refuse = (what: string) => () => {
    throw new Error(`${what} must not be used before the configuration is valid`);
  };
  const breakglass = (argv: string[], output = memoryOutput()) =>
    runCli(
      'breakglass',
      () =>
        breakglassMain(['--env', 'preprod-eu-west-1', ...argv], {
          clients: {
            s3: refuse('S3'),
            dynamodb: refuse('DynamoDB'),
            sts: refuse('STS'),
            cloudFormation: refuse('CloudFormation'),
            sns: refuse('SNS'),
          },
          kubectl: refuse('kubectl'),
          confirm: refuse('the prompt'),
          interactive: false,
          output,
          cwd: root,
          repoRoot: root,
          now: () => new Date(0),
        }),
      output,
    ).then((code) => ({ code, output }));
  const operator = {
    preflight: (argv: string[], output = memoryOutput()) =>
      runCli(
        'preflight',
        () =>
          preflightMain(argv, {
            output,
            cwd: root,
            repoRoot: root,
            aws: refuse('AWS'),
            needs: refuse('synth'),
          }),
        output,
      ).then((code) => ({ code, output })),
    rollback: (argv: string[], output = memoryOutput()) =>
      runCli(
        'rollback',
        () =>
          rollbackMain(['--stage', 'preprod-eu-west-1', ...argv], {
            codePipeline: refuse('CodePipeline'),
            confirm: refuse('the prompt'),
            interactive: false,
            sleep: () => Promise.resolve(),
            now: () => 0,
            output,
            cwd: root,
            repoRoot: root,
          }),
        output,
      ).then((code) => ({ code, output })),
    breakglass: (argv: string[], output = memoryOutput()) =>
      breakglass(['--image', 'v2', '--reason', 'INC-1', ...argv], output),
    'breakglass --reconcile': (argv: string[], output = memoryOutput()) =>
      breakglass(['--reconcile', 'run-1', '--reason', 'INC-1: git carries it', ...argv], output),
    'breakglass --release-hold': (argv: string[], output = memoryOutput()) =>
      breakglass(['--release-hold', 'token-1', ...argv], output),
    drift: (argv: string[], output = memoryOutput()) =>
      runCli(
        'drift',
        () =>
          driftMain(argv, {
            clients: {
              s3: refuse('S3'),
              dynamodb: refuse('DynamoDB'),
              sts: refuse('STS'),
              cloudFormation: refuse('CloudFormation'),
            },
            kubectl: refuse('kubectl'),
            output,
            cwd: root,
            repoRoot: root,
          }),
        output,
      ).then((code) => ({ code, output })),
    'rollback-guard': (argv: string[], output = memoryOutput()) =>
      runCli(
        'rollback-guard',
        () =>
          rollbackGuardMain(argv, { output, cwd: root, repoRoot: root, clients: refuse('AWS') }),
        output,
      ).then((code) => ({ code, output })),
    // diff reports its own errors (a cloud assembly it cannot read is bad usage too)
    diff: (argv: string[], output = memoryOutput()) =>
      diffMain(argv, { output, cwd: root, repoRoot: root }).then((code) => ({ code, output })),
    'node-updates': (argv: string[], output = memoryOutput()) =>
      runCli(
        'node-updates',
        () =>
          nodeUpdatesMain(argv, {
            ssm: refuse('SSM'),
            now: () => 0,
            output,
            cwd: root,
            repoRoot: root,
          }),
        output,
      ).then((code) => ({ code, output })),
  };

  const saved = process.env[CONFIG_ENV_VAR];
  afterEach(() => {
    if (saved === undefined) delete process.env[CONFIG_ENV_VAR];
    else process.env[CONFIG_ENV_VAR] = saved;
  });

  test('every command that takes the configuration is checked here (manifests below)', () => {
    expect(new Set(Object.keys(operator).map((k) => k.split(' ')[0]))).toEqual(
      new Set(TAKES_CONFIG.filter((n) => n !== 'manifests')),
    );
  });

  describe.each(Object.keys(operator) as (keyof typeof operator)[])('%s', (name) => {
    test.each([
      ['-c config=flag.json', ['-c', 'config=flag.json'], undefined, undefined, 'flag'],
      ['--config flag.json', ['--config', 'flag.json'], undefined, undefined, 'flag'],
      [`${CONFIG_ENV_VAR}=env.json`, [], 'env.json', undefined, 'env'],
      ['cdk.json context "config"', [], undefined, 'cdkjson.json', 'cdkjson'],
      [
        'the command line before DELIVERY_CONFIG',
        ['--config', 'flag.json'],
        'env.json',
        'cdkjson.json',
        'flag',
      ],
      ['DELIVERY_CONFIG before cdk.json', [], 'env.json', 'cdkjson.json', 'env'],
    ])('%s', async (_what, argv, env, cdkJson, used) => {
      withCdkJson(cdkJson);
      if (env === undefined) delete process.env[CONFIG_ENV_VAR];
      else process.env[CONFIG_ENV_VAR] = env;
      const { code, output } = await operator[name](argv);
      expect(code).toBe(2);
      expect(output.stderr).toContain(`Invalid configuration (config file ${used}.json)`);
      expect(output.stderr).toContain(`unknown key "${used}"`);
    });

    test(`${CONFIG_ENV_VAR} set but empty is refused, never read as "the built-in defaults"`, async () => {
      withCdkJson();
      process.env[CONFIG_ENV_VAR] = '';
      const { code, output } = await operator[name]([]);
      expect(code).toBe(2);
      expect(output.stderr).toContain(
        `${CONFIG_ENV_VAR} is set to "", which is not the path of a JSON file`,
      );
    });
  });

  test('manifests (through npx delivery): -c config=, --config and DELIVERY_CONFIG choose the environments', async () => {
    const example = 'config/example-multi-region.json';
    const [c, config, env, none] = await Promise.all([
      delivery([
        'manifests',
        '-c',
        `config=${example}`,
        '--env',
        'prod-eu-central-1',
        '--tag',
        'v1',
      ]),
      delivery(['manifests', '--config', example, '--env', 'prod-eu-central-1', '--tag', 'v1']),
      delivery(['manifests', '--env', 'prod-eu-central-1', '--tag', 'v1'], {
        env: { [CONFIG_ENV_VAR]: example },
      }),
      delivery(['manifests', '--env', 'prod-eu-central-1', '--tag', 'v1']),
    ]);
    for (const r of [c, config, env]) {
      expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
      expect(r.stdout).toContain('.dkr.ecr.eu-central-1.amazonaws.com/');
    }
    // without it, the built-in environments have no prod-eu-central-1
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('unknown environment "prod-eu-central-1"');
  }, 120000);

  test('chooseConfig: a relative DELIVERY_CONFIG or cdk.json path is relative to the repository, a command-line one to where it was typed', () => {
    expect(
      chooseConfig({
        commandLine: 'a.json',
        cwd: '/here',
        repoRoot: '/repo',
        env: {},
        cdkJson: 'c.json',
      }),
    ).toEqual({ file: 'a.json', baseDir: '/here', source: 'command line' });
    expect(
      chooseConfig({ cwd: '/here', repoRoot: '/repo', env: { [CONFIG_ENV_VAR]: 'e.json' } }),
    ).toEqual({ file: 'e.json', baseDir: '/repo', source: CONFIG_ENV_VAR });
    expect(chooseConfig({ cwd: '/here', repoRoot: '/repo', env: {}, cdkJson: 'c.json' })).toEqual({
      file: 'c.json',
      baseDir: '/repo',
      source: 'cdk.json',
    });
    expect(chooseConfig({ cwd: '/here', repoRoot: REPO_ROOT, env: {} })).toEqual({
      baseDir: REPO_ROOT,
      source: 'built-in defaults',
    });
  });
});
