import { type DeliveryConfig, loadConfig } from '../../lib/config';
import { UsageError } from './errors';

/**
 * The same configuration `cdk synth -c config=<file>` uses (a path relative to the directory the
 * operator ran the command in), or STACK_ENVIRONMENTS. An invalid file is bad usage: every
 * problem is listed.
 */
export function loadToolConfig(
  configFile: string | undefined,
  cwd: string,
  repoRoot: string = cwd,
): DeliveryConfig {
  try {
    return loadConfig({ contextValue: configFile, cwd, repoRoot });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

/**
 * Where the operator typed the command. `npm run` starts scripts in the package root and keeps
 * the original directory in INIT_CWD, so relative paths (--config, --manifest) mean what the
 * operator meant even from a subdirectory.
 */
export function invocationDir(): string {
  return process.env.INIT_CWD ?? process.cwd();
}
