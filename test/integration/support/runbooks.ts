import * as fs from 'node:fs';
import * as path from 'node:path';
import { REPO_ROOT } from '../../support/paths';
import { type Run, kubeconfig, runProcess } from './kubectl';

export const RUNBOOKS_DIR = path.join(REPO_ROOT, 'docs', 'runbooks');

/**
 * The shell commands of a runbook that start with `kubectl`, in document order: every line of a
 * fenced code block that begins with `kubectl ` (a trailing `\` joins the next line). Sample
 * output in code blocks (`$ kubectl ...`, `kubectl:   --context ...`) is not a command.
 */
export function runbookKubectlCommands(file: string): string[] {
  const lines = fs.readFileSync(path.join(RUNBOOKS_DIR, file), 'utf8').split('\n');
  const out: string[] = [];
  let inBlock = false;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line.startsWith('```')) {
      inBlock = !inBlock;
      continue;
    }
    if (!inBlock || !/^kubectl\s/.test(line)) continue;
    let cmd = line;
    while (cmd.endsWith('\\') && i + 1 < lines.length)
      cmd = `${cmd.slice(0, -1)} ${lines[++i].trim()}`;
    out.push(cmd);
  }
  return out;
}

/**
 * Runs one runbook command as an operator pastes it: through bash, with $CTX naming the
 * integration cluster's context (what `export CTX=<ClusterArn ...>` sets in the runbooks) and
 * `set -o pipefail`, so a failing kubectl anywhere in a pipeline fails the command.
 * The commands come from this repository's own docs, never from outside input.
 */
export function runRunbookCommand(
  cmd: string,
  extraEnv: Record<string, string> = {},
): Promise<Run> {
  return runProcess('bash', ['-o', 'pipefail', '-c', cmd], {
    timeoutMs: 400_000,
    env: { ...process.env, KUBECONFIG: kubeconfig(), CTX: 'integration', ...extraEnv },
  });
}
