import { AWS_REGIONS, DEFAULTS } from '../../../../lib/config';
import { UsageError } from '../../../../tools/common/errors';
import {
  type ReadTagFile,
  gateOptions,
  parseGateArgs,
} from '../../../../tools/pipeline/image-gate/args';
import type { GateOptions } from '../../../../tools/pipeline/image-gate/gate';
import {
  DEFAULT_FAIL_ON,
  DEFAULT_SCAN_TYPE,
  KNOWN_REGIONS,
} from '../../../../tools/pipeline/image-gate/regions';

const BASE = ['--repository', 'hello-web', '--tag', 'v1', '--regions', 'eu-west-1'];

/** In-memory files for --tag-file; a name not given is read from disk with the real, bounded reader. */
function files(contents: Record<string, string>): ReadTagFile | undefined {
  return Object.keys(contents).length === 0
    ? undefined
    : (path) =>
        path in contents
          ? Promise.resolve(contents[path])
          : Promise.reject(new Error(`test: no file ${path}`));
}

async function run(argv: string[], readFile = files({})): Promise<GateOptions> {
  const parsed = parseGateArgs(argv);
  if (parsed.kind !== 'run') throw new Error(`expected a run, got ${parsed.kind}`);
  return gateOptions(parsed, readFile);
}

/** The first line of the usage error: the rest is the usage line and a pointer to --help. */
async function errorOf(argv: string[], readFile = files({})): Promise<string> {
  try {
    await run(argv, readFile);
  } catch (e) {
    if (e instanceof UsageError) return e.message.split('\n')[0];
    throw e;
  }
  throw new Error(`no error for ${argv.join(' ')}`);
}

describe('image gate arguments', () => {
  test("accepts exactly lib/config's AWS_REGIONS, and defaults --fail-on to image.failOn's default", () => {
    expect(KNOWN_REGIONS).toEqual(AWS_REGIONS);
    expect(KNOWN_REGIONS).toContain('ap-southeast-2');
    expect(DEFAULT_FAIL_ON).toBe(DEFAULTS.image.failOn);
    expect(DEFAULT_SCAN_TYPE).toBe(DEFAULTS.image.scanning);
  });

  test('the minimal command line, with the defaults', async () => {
    expect(await run(BASE)).toEqual({
      repository: 'hello-web',
      tag: 'v1',
      regions: ['eu-west-1'],
      failOn: 'CRITICAL',
      timeoutSeconds: 900,
      pollIntervalSeconds: 5,
      registryId: undefined,
      scanType: 'ENHANCED',
    });
  });

  test('every option, in --flag=value form too', async () => {
    expect(
      await run([
        '--repository=team/hello-web',
        '--tag=1.2.3_abc',
        '--regions=eu-west-1, us-east-1,eu-west-1',
        '--fail-on',
        'high',
        '--timeout=0',
        '--poll-interval',
        '2',
        '--registry-id',
        '333333333333',
        '--scan-type=basic',
      ]),
    ).toEqual({
      repository: 'team/hello-web',
      tag: '1.2.3_abc',
      regions: ['eu-west-1', 'us-east-1'],
      failOn: 'HIGH',
      timeoutSeconds: 0,
      pollIntervalSeconds: 2,
      registryId: '333333333333',
      scanType: 'BASIC',
    });
  });

  test.each([['--help'], ['-h'], [...BASE, '--help']])('%s asks for the usage', (...argv) => {
    expect(parseGateArgs(argv)).toEqual({ kind: 'help' });
  });

  describe('--tag-file', () => {
    const imageJson = JSON.stringify({ repositoryName: 'hello-web', tag: '3f9c2a1b7d04' });

    test("the pipeline's image.json gives the tag", async () => {
      const options = await run(
        ['--repository', 'hello-web', '--tag-file', 'cdk.out/image.json', '--regions', 'us-east-1'],
        files({ 'cdk.out/image.json': imageJson }),
      );
      expect(options).toMatchObject({ repository: 'hello-web', tag: '3f9c2a1b7d04' });
    });

    test('and the repository, when --repository is left out', async () => {
      expect(
        await run(
          ['--tag-file', 'image.json', '--regions', 'us-east-1'],
          files({ 'image.json': imageJson }),
        ),
      ).toMatchObject({ repository: 'hello-web', tag: '3f9c2a1b7d04' });
    });

    test('a file with only a tag is enough with --repository', async () => {
      expect(
        await run(
          ['--repository', 'other', '--tag-file', 't.json', '--regions', 'us-east-1'],
          files({ 't.json': '{"tag":"v9"}' }),
        ),
      ).toMatchObject({ repository: 'other', tag: 'v9' });
    });

    test.each([
      [
        ['--repository', 'other-repo', '--tag-file', 'image.json'],
        { 'image.json': imageJson },
        /^--repository other-repo does not match "repositoryName": "hello-web" in image\.json$/,
      ],
      [['--tag-file', 'missing.json'], {}, /^--tag-file missing\.json: cannot read it \(ENOENT\)$/],
      [
        ['--tag-file', 'image.json'],
        { 'image.json': '{"tag": ' },
        /^--tag-file image\.json: not valid JSON/,
      ],
      [
        ['--tag-file', 'image.json'],
        { 'image.json': '["v1"]' },
        /^--tag-file image\.json: expected a JSON object/,
      ],
      [
        ['--tag-file', 'image.json'],
        { 'image.json': '{"repositoryName": "hello-web"}' },
        /^--tag-file image\.json: no string "tag" field$/,
      ],
      [
        ['--tag-file', 'image.json'],
        { 'image.json': '{"tag": 42}' },
        /^--tag-file image\.json: no string "tag" field$/,
      ],
      [
        ['--tag-file', 'image.json'],
        { 'image.json': '{"tag": "has space"}' },
        /^"tag" in image\.json: "has space" is not a valid image tag/,
      ],
      [
        ['--tag-file', 'image.json'],
        { 'image.json': '{"tag": "v1"}' },
        /^--repository is required$/,
      ],
      [
        ['--tag', 'v1', '--tag-file', 'image.json'],
        { 'image.json': imageJson },
        /^give either --tag or --tag-file, not both$/,
      ],
    ])('%j with %j: %s', async (argv, contents, message) => {
      expect(await errorOf([...argv, '--regions', 'eu-west-1'], files(contents))).toMatch(message);
    });
  });

  test.each([
    [['--repository', 'hello-web', '--regions', 'eu-west-1'], /^--tag or --tag-file is required$/],
    [['--repository', 'hello-web', '--tag', 'v1'], /^--regions is required/],
    [[...BASE, '--severity', 'HIGH'], /^unknown option --severity$/],
    [[...BASE, '-x'], /^unknown option -x$/],
    [[...BASE, '--tag', 'v2'], /^--tag is given twice; give it once$/],
    [[...BASE, '--tag'], /^--tag needs a value$/],
    [['--repository', 'hello-web', '--regions', 'eu-west-1', '--tag'], /^--tag needs a value$/],
    [['--repository', 'hello-web', '--tag', '--regions', 'eu-west-1'], /^--tag needs a value$/],
    [['--repository', 'hello-web', '--tag=', '--regions', 'eu-west-1'], /^--tag needs a value$/],
    [[...BASE, 'extra'], /^unexpected argument "extra" \(every value belongs to a --flag\)$/],
    [[...BASE, '--', 'x'], /^unexpected argument "x"/],
    [[...BASE, '--help=yes'], /^--help takes no value$/],
    [
      [...BASE, '--fail-on', 'SEVERE'],
      /^--fail-on: "SEVERE" is not one of CRITICAL, HIGH, MEDIUM, LOW$/,
    ],
    [
      [...BASE, '--fail-on', 'INFORMATIONAL'],
      /^--fail-on: "INFORMATIONAL" is not one of CRITICAL, HIGH, MEDIUM, LOW$/,
    ],
    [
      ['--repository', 'hello-web', '--tag', 'v1', '--regions', 'eu-west-9'],
      /^--regions: "eu-west-9" is not an AWS region \(did you mean eu-west-\d\?\)$/,
    ],
    [
      ['--repository', 'hello-web', '--tag', 'v1', '--regions', 'eu-west-1,moon'],
      /^--regions: "moon" is not an AWS region$/,
    ],
    [
      ['--repository', 'hello-web', '--tag', 'v1', '--regions', 'eu-west-1,,us-east-1'],
      /^--regions: empty entry in "eu-west-1,,us-east-1"/,
    ],
    [
      [...BASE, '--timeout', '15m'],
      /^--timeout: "15m" must be a whole number of seconds from 0 to 86400$/,
    ],
    [
      [...BASE, '--timeout=-1'],
      /^--timeout: "-1" must be a whole number of seconds from 0 to 86400$/,
    ],
    [[...BASE, '--timeout', '1.5'], /^--timeout: "1.5" must be a whole number/],
    [[...BASE, '--timeout', '86401'], /^--timeout: "86401" must be a whole number/],
    [
      [...BASE, '--poll-interval', '0'],
      /^--poll-interval: "0" must be a whole number of seconds from 1 to 300$/,
    ],
    [
      [...BASE, '--scan-type', 'INSPECTOR'],
      /^--scan-type: "INSPECTOR" is not one of ENHANCED, BASIC$/,
    ],
    [
      [...BASE, '--registry-id', '12345'],
      /^--registry-id: "12345" must be a 12-digit AWS account id$/,
    ],
    [
      [...BASE, '--scan-region', 'eu-west-9'],
      /^--scan-region: "eu-west-9" is not an AWS region \(did you mean eu-west-\d\?\); give one region$/,
    ],
    [
      [...BASE, '--scan-region', 'eu-west-1,us-east-1'],
      /^--scan-region: "eu-west-1,us-east-1" is not an AWS region/,
    ],
    [
      ['--repository', 'Hello_Web', '--tag', 'v1', '--regions', 'eu-west-1'],
      /^--repository: "Hello_Web" is not an ECR repository name/,
    ],
    [
      ['--repository', 'hello-web', '--tag', '-v1', '--regions', 'eu-west-1'],
      /^--tag needs a value$/,
    ],
    [
      ['--repository', 'hello-web', '--tag=.v1', '--regions', 'eu-west-1'],
      /^--tag: ".v1" is not a valid image tag/,
    ],
    [
      ['--repository', 'hello-web', '--tag', 'x'.repeat(129), '--regions', 'eu-west-1'],
      /^--tag: "x+" is not a valid image tag/,
    ],
  ])('%j is refused: %s', async (argv, message) => {
    expect(await errorOf(argv)).toMatch(message);
  });
});

test('--scan-region is passed on as one region', () => {
  const parsed = parseGateArgs([
    '--repository',
    'hello-web',
    '--tag',
    'v1',
    '--regions',
    'us-east-1',
    '--scan-region',
    'eu-west-1',
  ]);
  expect(parsed).toMatchObject({
    kind: 'run',
    options: expect.objectContaining({
      regions: ['us-east-1'],
      scanRegion: 'eu-west-1',
    }) as unknown,
  });
});
