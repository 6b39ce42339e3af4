import { type ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
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

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

export async function startMoto(timeoutMs = 30000): Promise<MotoServer> {
  const bin = findMotoServer();
  if (!bin) throw new Error('moto_server not found (bash scripts/setup-python.sh)');
  const port = await freePort();
  const child: ChildProcess = spawn(bin, ['-H', '127.0.0.1', '-p', String(port)], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const endpoint = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null)
      throw new Error(`moto_server exited early (${child.exitCode}): ${stderr}`);
    try {
      const res = await fetch(`${endpoint}/moto-api/`);
      if (res.status < 500) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(
        `moto_server did not answer on ${endpoint} within ${timeoutMs} ms: ${stderr}`,
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
