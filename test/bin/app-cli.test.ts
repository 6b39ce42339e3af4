import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { REPO_ROOT, TSX_CLI } from '../support/paths';

/** Runs the CDK app entry point as `cdk synth` does (context through CDK_CONTEXT_JSON), no AWS credentials. */
function runApp(
  context: Record<string, unknown>,
  cwd = REPO_ROOT,
  extraEnv: Record<string, string> = {},
) {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'cli-'));
  const env = {
    ...process.env,
    ...extraEnv,
    CDK_OUTDIR: outdir,
    CDK_CONTEXT_JSON: JSON.stringify(context),
    AWS_ACCESS_KEY_ID: '',
    AWS_SECRET_ACCESS_KEY: '',
    AWS_PROFILE: '',
  };
  const r = spawnSync(process.execPath, [TSX_CLI, path.join(REPO_ROOT, 'bin', 'app.ts')], {
    cwd,
    env,
    encoding: 'utf8',
    timeout: 120000,
  });
  return { ...r, outdir, files: fs.readdirSync(outdir) };
}

test('a bad config file: exit 1, every problem with its path, no stack trace, nothing synthesized', () => {
  const dir = fs.mkdtempSync(path.join(REPO_ROOT, 'cdk.out.test-'));
  try {
    const file = path.join(dir, 'bad.json');
    fs.writeFileSync(
      file,
      JSON.stringify({
        pipeline: { account: '1', region: 'eu-west-1' },
        source: { repositoryName: 'r' },
        preprod: { account: '222222222222', region: 'mars-1' },
        prod: { waves: [[]] },
      }),
    );
    const r = runApp({ config: path.relative(REPO_ROOT, file) });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/Invalid configuration \(config file .*bad\.json\): 3 problems/);
    expect(r.stderr).toMatch(/- pipeline\.account: must be a 12-digit AWS account id/);
    expect(r.stderr).toMatch(/- preprod\.region: "mars-1" is not an AWS region/);
    expect(r.stderr).toMatch(/- prod\.waves\[0\]: a wave must hold at least one environment/);
    expect(r.stderr).not.toMatch(/\n\s+at .*\.ts:\d+/);
    expect(r.files).toEqual([]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("a valid config file is passed on to the pipeline's own synth step", () => {
  const r = runApp({ config: 'config/example-multi-region.json' });
  expect(r.status).toBe(0);
  const template = fs.readFileSync(path.join(r.outdir, 'HelloWebPipeline.template.json'), 'utf8');
  expect(template).toContain("npx cdk synth -c 'config=config/example-multi-region.json'");
  expect(r.files).toContain('image.json');
  // CDK's built-in CloudFormation validation does not run in the CLI's synth (cfn-lint does: ADR 0019).
  // When it runs, it reports here even with nothing open (its acknowledged W3010s as suppressed);
  // test/nag.test.ts proves that cdk-nag still runs and fails a synth.
  const report = JSON.parse(
    fs.readFileSync(path.join(r.outdir, 'validation-report.json'), 'utf8'),
  ) as { pluginReports: Array<{ pluginName: string }> };
  expect(report.pluginReports.map((p) => p.pluginName)).not.toContain('CloudFormation Validate');
});

test('a service directory that is not there: exit 1, the problem at service.appDir, nothing synthesized', () => {
  const dir = fs.mkdtempSync(path.join(REPO_ROOT, 'cdk.out.test-'));
  try {
    const file = path.join(dir, 'no-service.json');
    const example = JSON.parse(
      fs.readFileSync(path.join(REPO_ROOT, 'config', 'example-orders-api.json'), 'utf8'),
    ) as Record<string, unknown>;
    fs.writeFileSync(
      file,
      JSON.stringify({ ...example, service: { name: 'orders-api', appDir: 'services/orders' } }),
    );
    const r = runApp({ config: path.relative(REPO_ROOT, file) });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(
      /- service\.appDir: "services\/orders" is not a directory of the repository .*; it must hold the service's source and Dockerfile/,
    );
    expect(r.stderr).not.toMatch(/\n\s+at .*\.ts:\d+/);
    expect(r.files).toEqual([]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

describe('DELIVERY_CONFIG names the file when -c config= does not (lib/config/config-source.ts)', () => {
  const dir = fs.mkdtempSync(path.join(REPO_ROOT, 'cdk.out.test-'));
  const bad = (name: string) => {
    const file = path.join(dir, `${name}.json`);
    fs.writeFileSync(file, JSON.stringify({ pipeline: { account: '1', region: 'eu-west-1' } }));
    return path.relative(REPO_ROOT, file);
  };
  const fromEnv = bad('from-env');
  const fromFlag = bad('from-flag');
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('the file DELIVERY_CONFIG names is validated and used, relative to the repository', () => {
    const r = runApp({}, os.tmpdir(), { DELIVERY_CONFIG: fromEnv });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`Configuration: ${fromEnv} (from DELIVERY_CONFIG)`);
    expect(r.stderr).toContain(`Invalid configuration (config file ${fromEnv})`);
    expect(r.files).toEqual([]);
  });

  test('-c config= wins over DELIVERY_CONFIG', () => {
    const r = runApp({ config: fromFlag }, REPO_ROOT, { DELIVERY_CONFIG: fromEnv });
    expect(r.stderr).toContain(`Invalid configuration (config file ${fromFlag})`);
    expect(r.stderr).not.toContain('from-env');
  });

  test('an empty DELIVERY_CONFIG is refused, not read as the built-in defaults', () => {
    const r = runApp({}, REPO_ROOT, { DELIVERY_CONFIG: '' });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(
      'DELIVERY_CONFIG is set to "", which is not the path of a JSON file',
    );
    expect(r.files).toEqual([]);
  });
});
