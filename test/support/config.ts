import {
  ConfigError,
  type DeliveryConfigInput,
  STACK_ENVIRONMENTS,
  validateConfig,
} from '../../lib/config';

/** The problems validation reports for a config, as "path: message" lines (none: it is valid). */
export function problems(raw: unknown): string[] {
  try {
    validateConfig(raw);
  } catch (e) {
    if (e instanceof ConfigError) return e.problems.map((p) => `${p.path}: ${p.message}`);
    throw e;
  }
  return [];
}

/** A copy of the built-in STACK_ENVIRONMENTS to change in a test. */
export const defaultConfig = (): DeliveryConfigInput =>
  JSON.parse(JSON.stringify(STACK_ENVIRONMENTS)) as DeliveryConfigInput;
