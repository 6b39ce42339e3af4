import { spawn } from 'node:child_process';
import type { Output } from '../../common/output';

export interface KubectlResult {
  /** kubectl's exit code; null when it did not run to an exit (not found, killed by a signal, stopped at its time limit). */
  readonly exitCode: number | null;
  /** Why it did not run or finish, when it did not. */
  readonly problem?: string;
  /** True when it was stopped because `signal` fired (its time limit): it may have applied part of the manifest. */
  readonly stopped?: boolean;
}

/** Runs kubectl with these arguments, streaming its output as it comes; `signal` stops it. */
export type RunKubectl = (
  args: readonly string[],
  output: Output,
  signal?: AbortSignal,
) => Promise<KubectlResult>;

/** Time kubectl gets to exit after SIGTERM before it is killed. */
const KILL_GRACE_MS = 3000;

/**
 * The `kubectl` found on PATH (of `env`), with stdin closed so it can never wait for input.
 * It runs in its own process group: a Ctrl-C in the terminal reaches breakglass, which decides
 * (an apply under way is let finish and recorded), rather than killing kubectl half-way; and at
 * its time limit the whole group is stopped, whatever kubectl started.
 */
export function spawnKubectl(env: NodeJS.ProcessEnv = process.env): RunKubectl {
  return (args, output, signal) =>
    new Promise((resolve) => {
      let settled = false;
      let stopped = false;
      let killTimer: NodeJS.Timeout | undefined;
      const done = (r: KubectlResult) => {
        if (settled) return;
        settled = true;
        if (killTimer) clearTimeout(killTimer);
        signal?.removeEventListener('abort', stop);
        resolve(
          stopped
            ? {
                ...r,
                exitCode: null,
                stopped: true,
                problem: `kubectl was stopped at its time limit (${r.problem ?? `exit code ${r.exitCode}`})`,
              }
            : r,
        );
      };
      const child = spawn('kubectl', [...args], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env,
        detached: true,
      });
      const killGroup = (sig: NodeJS.Signals) => {
        try {
          if (child.pid !== undefined) process.kill(-child.pid, sig);
        } catch {
          // the group is gone already
        }
      };
      const stop = () => {
        stopped = true;
        killGroup('SIGTERM');
        killTimer = setTimeout(() => killGroup('SIGKILL'), KILL_GRACE_MS);
      };
      if (signal?.aborted) stop();
      else signal?.addEventListener('abort', stop, { once: true });
      child.stdout.on('data', (d: Buffer) => output.outRaw(d.toString()));
      child.stderr.on('data', (d: Buffer) => output.errRaw(d.toString()));
      child.on('error', (e: NodeJS.ErrnoException) =>
        done({
          exitCode: null,
          problem:
            e.code === 'ENOENT'
              ? 'kubectl not found on PATH (install it: https://kubernetes.io/docs/tasks/tools/)'
              : e.message,
        }),
      );
      // Its output is complete at 'close'; but a grandchild that keeps the pipes open must not keep
      // us waiting after kubectl itself has exited.
      let exited: KubectlResult | undefined;
      child.on('exit', (code, sig) => {
        exited =
          code === null
            ? { exitCode: null, problem: `kubectl was killed by ${sig ?? 'a signal'}` }
            : { exitCode: code };
        setTimeout(() => {
          child.stdout.destroy();
          child.stderr.destroy();
          done(exited as KubectlResult);
        }, 1000).unref();
      });
      child.on('close', () => {
        if (exited) done(exited);
      });
    });
}
