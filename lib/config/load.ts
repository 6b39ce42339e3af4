import { ConfigFileError, parseConfigJson, readConfigFile, silentChanges } from './config-file';
import { DEFAULTS, STACK_ENVIRONMENTS } from './defaults';
import {
  type LimitsInput,
  checkLimits,
  nodeCountSchema,
  replicaCountSchema,
  vpcCidrSchema,
} from './limits';
import { checkAvailabilityZones, defaultAvailabilityZones } from './availability-zones';
import { checkPipelineLimits, checkPipelineStackSize } from './pipeline-limits';
import { type NamesInput, checkDerivedNames } from './names';
import { serviceSchema } from './service';
import { type DeliveryConfig, resolveConfig } from './resolve';
import { checkSource } from './source';
import {
  type ConfigProblem,
  type CrossFieldInput,
  type DeliveryConfigInput,
  checkDeliveryConfig,
  defaultStageName,
  crossFieldInputOf,
  deliveryConfigSchema,
  formatPath,
  salvageCrossFieldInput,
} from './schema';
import { checkNotifications, checkSafeDelivery } from './safe-delivery';

/** Thrown when the configuration is unusable; `problems` holds every problem found, each with its path. */
export class ConfigError extends Error {
  readonly problems: readonly ConfigProblem[];

  constructor(
    readonly source: string,
    problems: readonly ConfigProblem[],
  ) {
    const shown = problems.map((p) => ({ path: p.path, message: abbreviateValues(p.message) }));
    super(
      `Invalid configuration (${source}): ${shown.length} problem${shown.length === 1 ? '' : 's'}\n` +
        shown.map((p) => `  - ${p.path}: ${p.message}`).join('\n') +
        '\nSee docs/configuration.md for every setting and its default.',
    );
    this.name = 'ConfigError';
    this.problems = shown;
  }
}

/**
 * A quoted value of more than 100 characters in a message, shown by its start and its length: a
 * 10,000-character value repeated back (the config fuzz test found some) helps no one. Quotes are
 * taken in pairs from the start, so the text between two quoted values is never taken for one.
 */
function abbreviateValues(message: string): string {
  return message.replace(/"((?:[^"\\]|\\.)*)"/g, (quoted, inner: string) => {
    if (inner.length <= 100) return quoted;
    // Never cut an escape sequence in two.
    const start = inner.slice(0, 40).replace(/\\(u[0-9a-fA-F]{0,3})?$/, '');
    return `"${start}…" (${inner.length} characters)`;
  });
}

/**
 * Validates raw input (the typed constant or a parsed JSON file) and applies the defaults.
 * Reports every problem at once: the schema's, then the cross-field rules' over every part of
 * the config that passed the schema (so a bad region elsewhere does not hide a node-size problem).
 */
export function validateConfig(
  raw: unknown,
  source = 'STACK_ENVIRONMENTS',
  configFile?: string,
): DeliveryConfig {
  // reportInput: without it zod leaves `input` out of every issue, and a wrong type cannot be told from a missing key.
  const parsed = deliveryConfigSchema.safeParse(raw, { reportInput: true });
  const problems: ConfigProblem[] = parsed.success
    ? []
    : parsed.error.issues.map((issue) => ({
        path: formatPath(issue.path),
        message: describeIssue(issue),
      }));
  const crossField = parsed.success ? crossFieldInputOf(parsed.data) : salvageCrossFieldInput(raw);
  problems.push(
    ...checkDeliveryConfig(crossField, {
      architecture: DEFAULTS.image.architecture,
      instanceType: DEFAULTS.environment.nodes.instanceType,
      nodes: DEFAULTS.environment.nodes,
      replicas: DEFAULTS.environment.replicas,
    }),
    ...checkLimits(limitsInputOf(raw)),
    ...checkPipelineLimits(crossField),
    ...checkAvailabilityZones(crossField),
  );
  const namesInput = namesInputOf(raw, crossField);
  if (namesInput) problems.push(...checkDerivedNames(namesInput));
  problems.push(...checkSource(raw));
  problems.push(...checkSafeDelivery(raw));
  problems.push(...checkNotifications(raw), ...checkPipelineStackSize(raw));
  if (problems.length > 0 || !parsed.success) throw new ConfigError(source, problems);
  const input: DeliveryConfigInput = parsed.data;
  return resolveConfig(input, configFile);
}

/**
 * The configuration for this synth: `-c config=<file>` (a path relative to the working
 * directory, inside the repository so that the pipeline's own synth step can read it too), or
 * STACK_ENVIRONMENTS when no file is given.
 */
export function loadConfig(
  options: { contextValue?: unknown; cwd?: string; repoRoot?: string } = {},
): DeliveryConfig {
  const { contextValue } = options;
  if (contextValue === undefined || contextValue === null) {
    return validateConfig(STACK_ENVIRONMENTS);
  }
  // `-c config=` with nothing after it: a path lost on the way (an unset variable), never a wish
  // for the placeholder accounts.
  if (typeof contextValue === 'string' && contextValue.trim() === '') {
    throw new ConfigError('-c config', [
      {
        path: 'config',
        message:
          'is empty: give the path of a JSON file (-c config=config/my-org.json), or leave -c config out to use the built-in STACK_ENVIRONMENTS',
      },
    ]);
  }
  if (typeof contextValue !== 'string') {
    throw new ConfigError('-c config', [
      {
        path: 'config',
        message: 'must be the path of a JSON file, for example -c config=config/prod.json',
      },
    ]);
  }
  const shown = `config file ${contextValue}`;
  const refused = (e: unknown): never => {
    if (e instanceof ConfigFileError)
      throw new ConfigError(shown, [{ path: 'config', message: e.message }]);
    throw e;
  };
  let file: { text: string; relative: string; utf8: boolean };
  try {
    file = readConfigFile(
      contextValue,
      options.cwd ?? process.cwd(),
      options.repoRoot ?? options.cwd ?? process.cwd(),
    );
  } catch (e) {
    return refused(e);
  }
  // Bytes that are not UTF-8 first (every string that held them): they may also be why the text
  // is not JSON. Then a key given twice. Either way the parsed value is not what the file says.
  if (!file.utf8) throw new ConfigError(shown, silentChanges(file.text, false, file.relative));
  let raw: unknown;
  try {
    raw = parseConfigJson(file.text, file.relative);
  } catch (e) {
    return refused(e);
  }
  const changes = silentChanges(file.text, true, file.relative);
  if (changes.length > 0) throw new ConfigError(shown, changes);
  return validateConfig(raw, shown, file.relative);
}

/**
 * The fields the two-field limits look at, with the defaults applied, taken field by field from
 * the raw input: an environment with a bad region or greeting still gets its VPC checked in the
 * same run. A field that does not parse on its own is already a schema problem and is left out.
 */
function limitsInputOf(raw: unknown): LimitsInput[] {
  const d = DEFAULTS.environment;
  const obj = (v: unknown): Record<string, unknown> =>
    v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  const field = <T>(
    schema: { safeParse(v: unknown): { success: true; data: T } | { success: false } },
    value: unknown,
    fallback: T,
  ): T | undefined => {
    if (value === undefined) return fallback;
    const parsed = schema.safeParse(value);
    return parsed.success ? parsed.data : undefined;
  };
  const environments: { env: Record<string, unknown>; path: string }[] = [
    { env: obj(obj(raw).preprod), path: 'preprod' },
  ];
  const waves = obj(obj(raw).prod).waves;
  if (Array.isArray(waves))
    waves.forEach(
      (wave, w) =>
        Array.isArray(wave) &&
        wave.forEach((env, i) =>
          environments.push({ env: obj(env), path: `prod.waves[${w}][${i}]` }),
        ),
    );
  return environments.map(({ env, path }) => ({
    path,
    vpcCidr: field(vpcCidrSchema, env.vpcCidr, d.vpcCidr),
    // us-west-1 has no default (validation requires its zones); 2 is what it would get.
    zones:
      env.availabilityZones === undefined
        ? (defaultAvailabilityZones(typeof env.region === 'string' ? env.region : '')?.length ?? 2)
        : Array.isArray(env.availabilityZones)
          ? env.availabilityZones.length
          : undefined,
    nodesMax: field(nodeCountSchema, obj(env.nodes).max, d.nodes.max),
    replicasMax: field(replicaCountSchema, obj(env.replicas).max, d.replicas.max),
  }));
}

/**
 * What the derived-name limits look at, from the raw input part by part: a service name that is
 * itself invalid is a schema problem already, and then the derived names are not checked.
 */
function namesInputOf(raw: unknown, crossField: CrossFieldInput): NamesInput | undefined {
  const obj = (v: unknown): Record<string, unknown> =>
    v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  const root = obj(raw);
  const service = serviceSchema.safeParse(root.service ?? {});
  // An invalid name is reported by the schema; its derived names would only repeat that.
  if (!service.success) return undefined;
  const pipeline = deliveryConfigSchema.shape.pipeline.safeParse(root.pipeline);
  const image = deliveryConfigSchema.shape.image.safeParse(root.image);
  const stageRegions = crossField.environments.map((e) => e.env.region);
  return {
    service: service.data.name ?? DEFAULTS.service.name,
    pipelineName: pipeline.success ? pipeline.data.name : undefined,
    repositoryName: image.success ? image.data?.repositoryName : undefined,
    stages: crossField.environments.map(({ env, path, kind }) => ({
      stageName: env.name ?? defaultStageName(kind, env.region),
      path,
    })),
    regions: [...new Set(stageRegions)].filter((r) => r !== crossField.pipelineRegion),
  };
}

function describeIssue(issue: {
  code: string;
  message: string;
  keys?: readonly string[];
  expected?: unknown;
  input?: unknown;
}): string {
  if (issue.code === 'unrecognized_keys' && issue.keys) {
    return `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')} (a typo? see docs/configuration.md for the valid keys)`;
  }
  if (issue.code === 'invalid_type') {
    if (issue.input === undefined) return `is required (expected ${String(issue.expected)})`;
    return `expected ${String(issue.expected)}, received ${describeValue(issue.input)}`;
  }
  return issue.message;
}

/** A value's JSON type, with the value itself when it is short (never a whole object). */
function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'object') return 'object';
  // eslint-disable-next-line @typescript-eslint/no-base-to-string -- objects returned above: a primitive or a function here
  const shown = JSON.stringify(value) ?? String(value);
  return shown.length <= 40 ? `${typeof value} ${shown}` : typeof value;
}
