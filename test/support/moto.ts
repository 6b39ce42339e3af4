import { type ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * Starts moto_server (a local AWS API emulator) on 127.0.0.1 on a free port, for one test file.
 * It looks for the project's pinned moto in .venv (scripts/setup-python.sh), then on PATH.
 * Without moto: under CI=true the test fails; elsewhere the caller skips it and says so loudly.
 */
export interface MotoServer {
  readonly endpoint: string;
  stop(): Promise<void>;
}

export function findMotoServer(): string | undefined {
  const local = path.join(__dirname, '..', '..', '.venv', 'bin', 'moto_server');
  if (fs.existsSync(local)) return local;
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const candidate = path.join(dir, 'moto_server');
    if (dir && fs.existsSync(candidate)) return candidate;
  }
  return undefined;
}

/** True when the integration tests can run; prints the install hint when they cannot. */
export function motoAvailable(): boolean {
  if (findMotoServer()) return true;
  const hint =
    'moto_server not found: run `bash scripts/setup-python.sh` (installs the pinned moto into .venv)';
  if (process.env.CI === 'true')
    throw new Error(`${hint}. Under CI=true a missing tool is a failure.`);
  console.warn(`SKIPPING moto integration tests: ${hint}`);
  return false;
}

export async function startMoto(timeoutMs = 30000): Promise<MotoServer> {
  const bin = findMotoServer();
  if (!bin) throw new Error('moto_server not found (bash scripts/setup-python.sh)');
  // Port 0: moto_server binds a port the kernel picks and prints it ("Running on
  // http://127.0.0.1:<port>"). Choosing a free port first and passing it raced on a busy machine:
  // another process took it before moto bound it ("Address already in use", issue 17).
  const child: ChildProcess = spawn(bin, ['-H', '127.0.0.1', '-p', '0'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  let endpoint: string | undefined;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null)
      throw new Error(`moto_server exited early (${child.exitCode}): ${stderr}`);
    endpoint ??= /Running on (http:\/\/127\.0\.0\.1:\d+)/.exec(stderr)?.[1];
    if (endpoint) {
      try {
        // bounded: a request never waits longer than the time left
        const res = await fetch(`${endpoint}/moto-api/`, {
          signal: AbortSignal.timeout(Math.max(1000, deadline - Date.now())),
        });
        if (res.status < 500) break;
      } catch {
        // not answering yet
      }
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(
        `moto_server did not answer${endpoint ? ` on ${endpoint}` : ' (no "Running on" line)'} within ${timeoutMs} ms: ${stderr}`,
      );
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    endpoint,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

/** Environment for SDK clients pointed at moto: dummy credentials, no shared config lookups. */
export function motoEnv(endpoint: string, region = 'eu-west-1'): Record<string, string> {
  return {
    AWS_ENDPOINT_URL: endpoint,
    AWS_ACCESS_KEY_ID: 'testing',
    AWS_SECRET_ACCESS_KEY: 'testing',
    AWS_REGION: region,
    AWS_DEFAULT_REGION: region,
    AWS_EC2_METADATA_DISABLED: 'true',
  };
}
