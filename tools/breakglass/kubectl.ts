import { spawn } from 'node:child_process';
import type { Output } from '../common/output';

export interface KubectlResult {
  /** kubectl's exit code; null when it did not run to an exit (not found, killed by a signal). */
  readonly exitCode: number | null;
  /** Why it did not run or finish, when it did not. */
  readonly problem?: string;
}

/** Runs kubectl with these arguments, streaming its output as it comes. */
export type RunKubectl = (args: readonly string[], output: Output) => Promise<KubectlResult>;

/** The `kubectl` found on PATH (of `env`), with stdin closed so it can never wait for input. */
export function spawnKubectl(env: NodeJS.ProcessEnv = process.env): RunKubectl {
  return (args, output) =>
    new Promise((resolve) => {
      let settled = false;
      const done = (r: KubectlResult) => {
        if (!settled) {
          settled = true;
          resolve(r);
        }
      };
      const child = spawn('kubectl', [...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
      child.stdout.on('data', (d: Buffer) => output.outRaw(d.toString()));
      child.stderr.on('data', (d: Buffer) => output.errRaw(d.toString()));
      child.on('error', (e: NodeJS.ErrnoException) => done({ exitCode: null, problem: e.code === 'ENOENT' ? 'kubectl not found on PATH (install it: https://kubernetes.io/docs/tasks/tools/)' : e.message }));
      child.on('close', (code, signal) => done(code === null ? { exitCode: null, problem: `kubectl was killed by ${signal ?? 'a signal'}` } : { exitCode: code }));
    });
}
