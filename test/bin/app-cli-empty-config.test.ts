import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { REPO_ROOT } from '../support/paths';

// `npx cdk synth -c config=` (a variable that was empty, say): the CDK CLI passes the empty string
// on as the context value (aws-cdk's parseStringContextListToObject splits at the first "="), and
// the app used to read it as "no file" and synthesize the placeholder accounts of
// STACK_ENVIRONMENTS. Through the real CLI: refused, exit 1, nothing synthesized.
test('an empty -c config= is refused through the CDK CLI, nothing synthesized', () => {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'cli-empty-'));
  try {
    const r = spawnSync(
      process.execPath,
      [
        path.join(REPO_ROOT, 'node_modules', 'aws-cdk', 'bin', 'cdk'),
        'synth',
        '-c',
        'config=',
        '--no-notices',
        '-o',
        outdir,
      ],
      {
        cwd: REPO_ROOT,
        encoding: 'utf8',
        timeout: 120000,
        env: {
          ...process.env,
          AWS_ACCESS_KEY_ID: '',
          AWS_SECRET_ACCESS_KEY: '',
          AWS_PROFILE: '',
          CDK_DISABLE_VERSION_CHECK: 'true',
        },
      },
    );
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(
      /Invalid configuration \(-c config\): 1 problem\n {2}- config: is empty: give the path of a JSON file/,
    );
    expect(fs.readdirSync(outdir).filter((f) => f.endsWith('.template.json'))).toEqual([]);
  } finally {
    fs.rmSync(outdir, { recursive: true, force: true });
  }
});
