import * as fs from 'node:fs';
import * as path from 'node:path';
import { DEFAULTS, STACK_ENVIRONMENTS } from './defaults';
import { checkAvailabilityZones } from './availability-zones';
import { checkPipelineLimits } from './pipeline-limits';
import { type DeliveryConfig, resolveConfig } from './resolve';
import { type ConfigProblem, type DeliveryConfigInput, checkDeliveryConfig, crossFieldInputOf, deliveryConfigSchema, formatPath, salvageCrossFieldInput } from './schema';

/** Thrown when the configuration is unusable; `problems` holds every problem found, each with its path. */
export class ConfigError extends Error {
  constructor(
    readonly source: string,
    readonly problems: readonly ConfigProblem[],
  ) {
    super(
      `Invalid configuration (${source}): ${problems.length} problem${problems.length === 1 ? '' : 's'}\n` +
        problems.map((p) => `  - ${p.path}: ${p.message}`).join('\n') +
        '\nSee docs/configuration.md for every setting and its default.',
    );
    this.name = 'ConfigError';
  }
}

/**
 * Validates raw input (the typed constant or a parsed JSON file) and applies the defaults.
 * Reports every problem at once: the schema's, then the cross-field rules' over every part of
 * the config that passed the schema (so a bad region elsewhere does not hide a node-size problem).
 */
export function validateConfig(raw: unknown, source = 'STACK_ENVIRONMENTS', configFile?: string): DeliveryConfig {
  const parsed = deliveryConfigSchema.safeParse(raw);
  const problems: ConfigProblem[] = parsed.success ? [] : parsed.error.issues.map((issue) => ({ path: formatPath(issue.path), message: describeIssue(issue) }));
  const crossField = parsed.success ? crossFieldInputOf(parsed.data) : salvageCrossFieldInput(raw);
  problems.push(
    ...checkDeliveryConfig(crossField, {
      architecture: DEFAULTS.image.architecture,
      instanceType: DEFAULTS.environment.nodes.instanceType,
      nodes: DEFAULTS.environment.nodes,
      replicas: DEFAULTS.environment.replicas,
    }),
    ...checkPipelineLimits(crossField),
    ...checkAvailabilityZones(crossField),
  );
  if (problems.length > 0 || !parsed.success) throw new ConfigError(source, problems);
  const input: DeliveryConfigInput = parsed.data;
  return resolveConfig(input, configFile);
}

/**
 * The configuration for this synth: `-c config=<file>` (a path relative to the working
 * directory, inside the repository so that the pipeline's own synth step can read it too), or
 * STACK_ENVIRONMENTS when no file is given.
 */
export function loadConfig(options: { contextValue?: unknown; cwd?: string; repoRoot?: string } = {}): DeliveryConfig {
  const { contextValue } = options;
  if (contextValue === undefined || contextValue === null || contextValue === '') {
    return validateConfig(STACK_ENVIRONMENTS);
  }
  if (typeof contextValue !== 'string') {
    throw new ConfigError('-c config', [{ path: 'config', message: 'must be the path of a JSON file, for example -c config=config/prod.json' }]);
  }
  const cwd = options.cwd ?? process.cwd();
  const repoRoot = options.repoRoot ?? cwd;
  const file = path.resolve(cwd, contextValue);
  const shown = `config file ${contextValue}`;
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    const reason = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist' : `cannot be read (${(e as Error).message})`;
    throw new ConfigError(shown, [{ path: 'config', message: `${file} ${reason}; give a JSON file of the STACK_ENVIRONMENTS shape, e.g. -c config=config/example-multi-region.json` }]);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(shown, [{ path: 'config', message: `${file} is not valid JSON: ${(e as Error).message}` }]);
  }
  const relative = path.relative(repoRoot, file);
  if (relative.startsWith('..') || path.isAbsolute(relative)) {
    throw new ConfigError(shown, [{ path: 'config', message: `${file} is outside the repository (${repoRoot}); commit it inside the repository so the pipeline's synth step uses the same configuration` }]);
  }
  return validateConfig(raw, shown, relative.split(path.sep).join('/'));
}

function describeIssue(issue: { code: string; message: string; keys?: readonly string[]; expected?: unknown; input?: unknown }): string {
  if (issue.code === 'unrecognized_keys' && issue.keys) {
    return `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')} (a typo? see docs/configuration.md for the valid keys)`;
  }
  if (issue.code === 'invalid_type' && issue.input === undefined) {
    return `is required (expected ${String(issue.expected)})`;
  }
  return issue.message;
}
