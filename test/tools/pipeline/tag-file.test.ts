import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { REPO_ROOT, TSX_CLI } from '../../support/paths';

/**
 * `--tag-file` (image gate and image backfill) follows the config file's rules (issue 26): a
 * regular file, of bounded size, read within the deadline. A FIFO nobody writes hung both tools
 * past every bound; /dev/zero filled memory until the process was killed.
 */
const TOOLS = {
  'image-gate': [
    'tools/pipeline/image-gate/cli.ts',
    ['--repository', 'hello-web', '--regions', 'eu-west-1'],
  ],
  'image-backfill': [
    'tools/pipeline/image-backfill/cli.ts',
    [
      '--repository',
      'hello-web',
      '--source-region',
      'eu-west-1',
      '--regions',
      'us-east-1',
      '--registry-id',
      '111111111111',
    ],
  ],
} as const;

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tag-file-'));
const fifo = path.join(dir, 'image.json');
execFileSync('mkfifo', [fifo]);
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function run(tool: keyof typeof TOOLS, tagFile: string) {
  const [script, args] = TOOLS[tool];
  return spawnSync(
    process.execPath,
    [TSX_CLI, path.join(REPO_ROOT, script), ...args, '--tag-file', tagFile],
    {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      // A bound for the test, not a measurement: the tools answer in about a second.
      timeout: 60000,
      // No AWS: the command must stop before any call.
      env: { ...process.env, AWS_ENDPOINT_URL: 'http://127.0.0.1:9', AWS_MAX_ATTEMPTS: '1' },
    },
  );
}

describe.each(Object.keys(TOOLS) as (keyof typeof TOOLS)[])('%s --tag-file', (tool) => {
  test('a FIFO nobody writes is refused at once: not a regular file, exit 2', () => {
    const r = run(tool, fifo);
    expect(r.signal).toBeNull();
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`--tag-file ${fifo}: not a regular file`);
  });

  test('/dev/zero is refused without reading it: exit 2', () => {
    const r = run(tool, '/dev/zero');
    expect(r.signal).toBeNull();
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--tag-file /dev/zero: not a regular file');
  });

  test('a file larger than the limit is refused unread: exit 2', () => {
    const big = path.join(dir, `${tool}-big.json`);
    fs.writeFileSync(big, `{"tag": "v1", "pad": "${'x'.repeat(2 * 1024 * 1024)}"}`);
    const r = run(tool, big);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`--tag-file ${big}: \\d+ bytes, more than the \\d+`));
  });
});
