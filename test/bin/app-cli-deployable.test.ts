import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { STACK_ENVIRONMENTS } from '../../lib/config';
import { REPO_ROOT, TSX_CLI } from '../support/paths';

// `cdk synth -c config=<file>` with values that used to pass validation and then crash the synth
// with a stack trace (VPC CIDR, ECR name, int32 replicas) or deploy something that cannot work
// (branch, greeting): now exit 1 before anything is built, every problem listed with its path.
test('values that crashed the synth are validation problems: exit 1, no stack trace, nothing synthesized', () => {
  const dir = fs.mkdtempSync(path.join(REPO_ROOT, 'cdk.out.test-'));
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'cli-'));
  try {
    const raw = JSON.parse(JSON.stringify(STACK_ENVIRONMENTS)) as Record<
      string,
      Record<string, unknown>
    >;
    raw.source.branch = 'main..x';
    raw.image = { repositoryName: 'a' };
    raw.preprod = {
      ...raw.preprod,
      vpcCidr: '10.0.0.0/24',
      replicas: { min: 2, max: 2 ** 31 },
      greeting: 'Hi\u0007',
    };
    const file = path.join(dir, 'crashers.json');
    fs.writeFileSync(file, JSON.stringify(raw));
    const env = {
      ...process.env,
      CDK_OUTDIR: outdir,
      CDK_CONTEXT_JSON: JSON.stringify({ config: path.relative(REPO_ROOT, file) }),
      AWS_ACCESS_KEY_ID: '',
      AWS_SECRET_ACCESS_KEY: '',
      AWS_PROFILE: '',
    };
    const r = spawnSync(process.execPath, [TSX_CLI, path.join(REPO_ROOT, 'bin', 'app.ts')], {
      cwd: REPO_ROOT,
      env,
      encoding: 'utf8',
      timeout: 120000,
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/Invalid configuration \(config file .*crashers\.json\): 5 problems/);
    expect(r.stderr).toMatch(/- source\.branch: "main\.\.x" is not a branch name git accepts/);
    expect(r.stderr).toMatch(/- image\.repositoryName: must be an ECR repository name/);
    expect(r.stderr).toMatch(/- preprod\.vpcCidr: "10\.0\.0\.0\/24" is too small/);
    expect(r.stderr).toMatch(/- preprod\.replicas\.max: must be at most 2147483647/);
    expect(r.stderr).toMatch(/- preprod\.greeting: must not contain control characters/);
    expect(r.stderr).not.toMatch(/\n\s+at .*\.(ts|js):\d+/);
    expect(fs.readdirSync(outdir)).toEqual([]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
    fs.rmSync(outdir, { recursive: true, force: true });
  }
});
