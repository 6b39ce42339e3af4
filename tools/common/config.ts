import { type DeliveryConfig, loadConfig } from '../../lib/config';
import { UsageError } from './errors';

/**
 * The same configuration `cdk synth -c config=<file>` uses (a path relative to the working
 * directory), or STACK_ENVIRONMENTS. An invalid file is bad usage: every problem is listed.
 */
export function loadToolConfig(configFile: string | undefined, cwd: string): DeliveryConfig {
  try {
    return loadConfig({ contextValue: configFile, cwd });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}
