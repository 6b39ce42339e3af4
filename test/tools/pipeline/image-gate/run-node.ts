import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { type Metafile, build } from 'esbuild';
import { imageGateBuildOptions } from '../../../../tools/pipeline/image-gate/bundle';
import { REPO_ROOT } from '../../../support/paths';

export { REPO_ROOT };

/** Bundles the gate exactly as the pipeline gets it, into a fresh temp dir with no node_modules. */
export async function bundleImageGate(): Promise<{
  dir: string;
  bundle: string;
  metafile: Metafile;
}> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'image-gate-bundle-'));
  const options = imageGateBuildOptions(REPO_ROOT, dir);
  const { metafile } = await build({ ...options, metafile: true });
  return { dir, bundle: options.outfile as string, metafile };
}

export interface NodeRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs `node <script> ...args` asynchronously (a moto_server in the same test keeps its log pipe
 * drained), from `cwd`, with only the given environment plus PATH.
 */
export function runNode(
  script: string,
  args: readonly string[],
  options: { cwd: string; env?: Record<string, string>; timeoutMs?: number },
): Promise<NodeRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], {
      cwd: options.cwd,
      env: { PATH: process.env.PATH ?? '', ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** The lines the gate itself printed: without Node's warnings (the SDK warns about old Node versions). */
export function gateLines(text: string): string[] {
  return text.split('\n').filter((l) => l.startsWith('image-gate:') || l.startsWith('['));
}
