import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { allEnvironments, loadConfig } from '../../../../lib/config';
import { type MotoServer, motoAvailable, motoEnv, startMoto } from '../../../support/moto';
import { REPO_ROOT } from '../../../support/paths';

/**
 * `npx delivery diff` (`npm run diff`) reports on every stack of the configuration every command
 * uses (issue 23): it ran `cdk diff HelloWebPipeline`, the pipeline stack alone, and ignored the
 * configuration. Run through the entry point with DELIVERY_CONFIG naming the file, against
 * moto_server (no stack is deployed there, so every stack is new), with the real CDK CLI
 * synthesizing.
 */
const CONFIG = 'test/tools/operator/breakglass/fixtures/config.json';
const available = motoAvailable();
let moto: MotoServer | undefined;
beforeAll(async () => {
  if (available) moto = await startMoto();
}, 60000);
afterAll(() => moto?.stop());

function deliveryDiff(args: string[], env: Record<string, string> = {}) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [path.join(REPO_ROOT, 'bin', 'delivery.cjs'), 'diff', ...args],
      {
        cwd: REPO_ROOT,
        env: {
          PATH: `${path.join(REPO_ROOT, 'node_modules', '.bin')}:${process.env.PATH ?? ''}`,
          HOME: process.env.HOME ?? '',
          ...motoEnv(moto!.endpoint),
          AWS_MAX_ATTEMPTS: '1',
          ...env,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 280000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

(available ? test : test.skip)(
  'npx delivery diff with DELIVERY_CONFIG: the pipeline stack and every environment of that file',
  async () => {
    const config = loadConfig({ contextValue: CONFIG, repoRoot: REPO_ROOT });
    const r = await deliveryDiff(['--no-assume', '--json'], { DELIVERY_CONFIG: CONFIG });
    expect({ code: r.code, stderr: r.code === 0 ? '' : r.stderr }).toEqual({ code: 0, stderr: '' });
    const doc = JSON.parse(r.stdout) as { command: string; stacks: string[] };
    expect(doc.command).toBe('diff');
    expect([...doc.stacks].sort()).toEqual(
      [
        `${config.pipeline.name}-pipeline`,
        ...allEnvironments(config).map((e) => e.stackName),
      ].sort(),
    );
    expect(r.stderr).toContain(`Configuration: ${CONFIG} (from DELIVERY_CONFIG)`);
  },
  300000,
);
