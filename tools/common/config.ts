import * as path from 'node:path';
import {
  type ConfigChoice,
  type DeliveryConfig,
  chooseConfig,
  describeConfigChoice,
  loadChosenConfig,
} from '../../lib/config';
import { UsageError } from './errors';

/** The repository this code runs from (tools/common/ is two levels below it). */
export const REPO_ROOT = path.resolve(__dirname, '..', '..');

export interface ToolConfig {
  readonly config: DeliveryConfig;
  readonly choice: ConfigChoice;
  /** "config/x.json (from DELIVERY_CONFIG)", for the command's first lines. */
  readonly described: string;
}

/**
 * The same configuration `cdk synth` uses: `-c config=<file>` / `--config <file>` (relative to
 * where the operator typed the command), else DELIVERY_CONFIG, else cdk.json's context "config"
 * (both relative to the repository root), else STACK_ENVIRONMENTS (lib/config/config-source.ts).
 * An invalid file is bad usage: every problem is listed.
 */
export function loadToolConfig(
  configFile: string | undefined,
  cwd: string,
  repoRoot: string = cwd,
  env: NodeJS.ProcessEnv = process.env,
): DeliveryConfig {
  return chooseToolConfig(configFile, cwd, repoRoot, env).config;
}

/** loadToolConfig, with where the configuration came from. */
export function chooseToolConfig(
  configFile: string | undefined,
  cwd: string,
  repoRoot: string = cwd,
  env: NodeJS.ProcessEnv = process.env,
): ToolConfig {
  try {
    const choice = chooseConfig({ commandLine: configFile, cwd, repoRoot, env });
    return {
      config: loadChosenConfig(choice, repoRoot),
      choice,
      described: describeConfigChoice(choice),
    };
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

/**
 * Where the operator typed the command. `npm run` starts scripts in the package root and keeps
 * the original directory in INIT_CWD, so relative paths (--config, --manifest) mean what the
 * operator meant even from a subdirectory; `npx delivery` runs where it was typed.
 */
export function invocationDir(): string {
  return process.env.INIT_CWD ?? process.cwd();
}
