import { spawn } from 'node:child_process';
import { type MotoServer, motoAvailable, motoEnv, startMoto } from '../../../support/moto';
import { REPO_ROOT } from '../../../support/paths';

/**
 * `npm run diff` diffs every stack of the configuration every command uses (issue 23): it ran
 * `cdk diff HelloWebPipeline`, the pipeline stack alone, and ignored `--config`. Against
 * moto_server (CloudFormation answers that no stack exists yet, so every stack is all new), with
 * the real CDK CLI.
 */
const CONFIG = 'test/tools/operator/breakglass/fixtures/config.json';
const available = motoAvailable();
let moto: MotoServer | undefined;
beforeAll(async () => {
  if (available) moto = await startMoto();
}, 60000);
afterAll(() => moto?.stop());

function npmRunDiff(args: string[], env: Record<string, string> = {}) {
  return new Promise<{ code: number | null; out: string }>((resolve, reject) => {
    const child = spawn('npm', ['run', '-s', 'diff', '--', ...args], {
      cwd: REPO_ROOT,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '',
        ...motoEnv(moto!.endpoint),
        AWS_MAX_ATTEMPTS: '1',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 280000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

/** The stacks `cdk diff` reported, as "Stack <id>" lines name them. */
const stacksOf = (out: string) => [...out.matchAll(/^Stack (\S+)/gm)].map((m) => m[1]).sort();

(available ? test : test.skip)(
  'npm run diff -- --config <file>: every stack of that file, the environments inside the stages too',
  async () => {
    const r = await npmRunDiff(['--config', CONFIG]);
    expect(r.code).toBe(0);
    expect(stacksOf(r.out)).toEqual(
      [
        'HelloWebPipeline',
        'HelloWebPipeline/ImageReplicas/Replica-us-east-1',
        'HelloWebPipeline/preprod-eu-west-1/HelloWeb',
        'HelloWebPipeline/prod-us-east-1/HelloWeb',
        'cross-region-stack-111111111111:us-east-1',
      ].sort(),
    );
    // the fixture's pre-prod account, not the built-in one
    expect(r.out).toContain('(aws://123456789012/eu-west-1)');
  },
  300000,
);
