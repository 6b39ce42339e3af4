import {
  DescribeImageScanFindingsCommand,
  DescribeImagesCommand,
  ECRClient,
} from '@aws-sdk/client-ecr';
import { mockClient } from 'aws-sdk-client-mock';
import { type CliIo, main } from '../../../../tools/pipeline/image-gate/cli';
import { basicFinding, completeScan, fakeClock, imageFound, imageNotFound } from './fixtures';

/** The CLI in-process: the real ECRClient construction, mocked at the class, and a fake clock. */
const ecr = mockClient(ECRClient);

beforeEach(() => ecr.reset());

async function cli(
  argv: string[],
  readTagFile?: (path: string) => Promise<string>,
): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const clock = fakeClock();
  const io: CliIo = {
    out: (l) => out.push(l),
    err: (l) => err.push(l),
    readTagFile,
    gate: { sleep: clock.sleep, now: clock.now },
  };
  const code = await main(argv, io);
  return { code, out, err };
}

const ARGS = ['--repository', 'hello-web', '--tag', 'v1', '--regions', 'eu-west-1'];

describe('image-gate CLI', () => {
  test('--help: usage on stdout, exit 0, no AWS call', async () => {
    const { code, out, err } = await cli(['--help']);
    expect(code).toBe(0);
    expect(out.join('\n')).toMatch(
      /^Usage: npx delivery image-gate --repository <name> \(--tag <tag> \| --tag-file <image\.json>\) --regions/,
    );
    expect(err).toEqual([]);
    expect(ecr.calls()).toHaveLength(0);
  });

  test('bad arguments: exit 2 and exactly one line, no AWS call', async () => {
    const { code, out, err } = await cli([
      '--repository',
      'hello-web',
      '--tag',
      'v1',
      '--regions',
      'eu-west-1',
      '--fail-on',
      'SOMETIMES',
    ]);
    expect(code).toBe(2);
    expect(out).toEqual([]);
    expect(err).toEqual([
      'image-gate: ERROR --fail-on: "SOMETIMES" is not one of CRITICAL, HIGH, MEDIUM, LOW (see --help)',
    ]);
    expect(ecr.calls()).toHaveLength(0);
  });

  test('PASS: progress, counts, and a PASS line last; exit 0', async () => {
    ecr
      .on(DescribeImagesCommand)
      .resolves(imageFound)
      .on(DescribeImageScanFindingsCommand)
      .resolves(completeScan([basicFinding('CVE-2024-0001', 'LOW')]));
    const { code, out, err } = await cli(ARGS);
    expect(code).toBe(0);
    expect(err).toEqual([]);
    expect(out[0]).toBe(
      'image-gate: checking hello-web:v1 in eu-west-1 (ENHANCED scanning, fail on CRITICAL and above, timeout 900s)',
    );
    expect(out).toContain(
      '[eu-west-1] scan COMPLETE (0s): CRITICAL 0, HIGH 0, MEDIUM 0, LOW 1, INFORMATIONAL 0, UNDEFINED 0',
    );
    expect(out[out.length - 1]).toMatch(
      /^image-gate: PASS hello-web:v1 \(sha256:[0-9a-f]{64}\): no findings at or above CRITICAL in eu-west-1 \(eu-west-1: LOW 1\)$/,
    );
  });

  test('BLOCKED: the table on stdout, one BLOCKED line on stderr; exit 1', async () => {
    ecr
      .on(DescribeImagesCommand)
      .resolves(imageFound)
      .on(DescribeImageScanFindingsCommand)
      .resolves(completeScan([basicFinding('CVE-2024-9999', 'CRITICAL', 'zlib', '1.2.11')]));
    const { code, out, err } = await cli(ARGS);
    expect(code).toBe(1);
    expect(out).toContain('[eu-west-1] 1 finding at or above CRITICAL:');
    expect(out.some((l) => /CRITICAL\s+CVE-2024-9999\s+zlib\s+1\.2\.11\s+https:/.test(l))).toBe(
      true,
    );
    expect(err).toEqual([
      'image-gate: BLOCKED hello-web:v1: 1 finding at or above CRITICAL in eu-west-1 (CVE-2024-9999)',
    ]);
  });

  test('timeout waiting for the image: one TIMEOUT line; exit 124, which the usage documents', async () => {
    ecr.on(DescribeImagesCommand).rejects(imageNotFound());
    const { code, out, err } = await cli([...ARGS, '--timeout', '20']);
    expect(code).toBe(124);
    expect(out).toContain('[eu-west-1] waiting for replication (15s)');
    expect(err).toEqual([
      'image-gate: TIMEOUT image hello-web:v1 not found in eu-west-1 after 20s (--timeout 20)',
    ]);
    expect((await cli(['--help'])).out.join('\n')).toMatch(/124 +timed out: --timeout/);
  });

  test('--json: the verdict as one JSON document on stdout, progress on stderr', async () => {
    ecr
      .on(DescribeImagesCommand)
      .resolves(imageFound)
      .on(DescribeImageScanFindingsCommand)
      .resolves(completeScan([basicFinding('CVE-2024-0001', 'LOW')]));
    const { code, out, err } = await cli([...ARGS, '--json']);
    expect(code).toBe(0);
    expect(JSON.parse(out.join('\n'))).toMatchObject({
      command: 'image-gate',
      exitCode: 0,
      verdict: 'PASS',
      repository: 'hello-web',
      tag: 'v1',
      regions: [{ region: 'eu-west-1', verdict: 'PASS' }],
      findings: [],
    });
    expect(err[err.length - 1]).toMatch(/^image-gate: PASS hello-web:v1/);
  });

  test('--tag-file feeds the tag to the gate', async () => {
    ecr
      .on(DescribeImagesCommand)
      .resolves(imageFound)
      .on(DescribeImageScanFindingsCommand)
      .resolves(completeScan([]));
    const { code } = await cli(['--tag-file', 'image.json', '--regions', 'eu-west-1'], () =>
      Promise.resolve('{"repositoryName":"hello-web","tag":"3f9c2a1b"}'),
    );
    expect(code).toBe(0);
    expect(ecr.commandCalls(DescribeImagesCommand)[0].args[0].input).toEqual({
      repositoryName: 'hello-web',
      imageIds: [{ imageTag: '3f9c2a1b' }],
    });
  });

  test('anything unexpected is one ERROR line, never a stack trace; exit 3 (no verdict)', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const failingRead = (): Promise<string> =>
      Promise.reject(new TypeError('boom\n    at somewhere (file.ts:1:1)'));
    // a reader that throws something other than an I/O error is still reported in one line
    const code = await main(['--tag-file', 'x.json', '--regions', 'eu-west-1'], {
      out: (l) => out.push(l),
      err: (l) => err.push(l),
      readTagFile: failingRead,
    });
    expect(code).toBe(3);
    expect(err).toHaveLength(1);
    expect(err[0]).toMatch(/^image-gate: ERROR /);
    expect(err[0]).not.toContain('\n');

    const crash = await main(ARGS, {
      out: (l) => out.push(l),
      err: (l) => err.push(l),
      gate: {
        now: () => {
          throw new RangeError('clock broke');
        },
      },
    });
    expect(crash).toBe(3);
    expect(err[1]).toBe('image-gate: ERROR RangeError: clock broke');
  });
});
