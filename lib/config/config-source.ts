import * as fs from 'node:fs';
import * as path from 'node:path';
import { CONFIG_ENV_VAR } from './config-env';
import { ConfigError, loadConfig } from './load';
import type { DeliveryConfig } from './resolve';

/**
 * Which configuration file a command uses, the same way for `npx cdk synth`, `npm test`,
 * `npm run diff` and every `npx delivery` command (docs/decisions/0028-one-command-contract.md):
 *
 *  1. the command line: `-c config=<file>` or `--config <file>` (relative to where it was typed);
 *  2. the environment variable DELIVERY_CONFIG (relative to the repository root);
 *  3. `"config"` in cdk.json's `context` (relative to the repository root, like cdk.json itself);
 *  4. none: the built-in STACK_ENVIRONMENTS (lib/config/defaults.ts).
 */
export { CONFIG_ENV_VAR };

export type ConfigSource =
  'command line' | typeof CONFIG_ENV_VAR | 'cdk.json' | 'built-in defaults';

export interface ConfigChoice {
  /** The file, or undefined for the built-in STACK_ENVIRONMENTS. */
  readonly file?: string;
  /** The directory a relative `file` is relative to. */
  readonly baseDir: string;
  readonly source: ConfigSource;
}

/** cdk.json's `context.config` (undefined when cdk.json or the key is missing); unreadable cdk.json is an error. */
export function cdkJsonConfig(repoRoot: string): unknown {
  const file = path.join(repoRoot, 'cdk.json');
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, {
      cause: e,
    });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new Error(`${file} is not valid JSON`, { cause: e });
  }
  const context = (parsed as { context?: Record<string, unknown> } | null)?.context;
  return context !== null && typeof context === 'object' ? context.config : undefined;
}

/**
 * The configuration file a run uses, and why. `commandLine` is what `-c config=` or `--config`
 * gave (undefined when neither). A value that is set but not a non-empty string is returned as
 * is, for the loader to refuse with its source named.
 */
export function chooseConfig(options: {
  readonly commandLine?: unknown;
  readonly cwd: string;
  readonly repoRoot: string;
  readonly env?: NodeJS.ProcessEnv;
  /** cdk.json's `context.config`. @default read from `<repoRoot>/cdk.json` */
  readonly cdkJson?: unknown;
}): ConfigChoice & { readonly raw?: unknown } {
  const env = options.env ?? process.env;
  if (options.commandLine !== undefined)
    return choice(options.commandLine, options.cwd, 'command line');
  const fromEnv = env[CONFIG_ENV_VAR];
  if (fromEnv !== undefined) return choice(fromEnv, options.repoRoot, CONFIG_ENV_VAR);
  const fromCdkJson = 'cdkJson' in options ? options.cdkJson : cdkJsonConfig(options.repoRoot);
  if (fromCdkJson !== undefined) return choice(fromCdkJson, options.repoRoot, 'cdk.json');
  return { baseDir: options.repoRoot, source: 'built-in defaults' };
}

function choice(
  value: unknown,
  baseDir: string,
  source: ConfigSource,
): ConfigChoice & { readonly raw?: unknown } {
  return typeof value === 'string'
    ? { file: value, baseDir, source }
    : { file: undefined, baseDir, source, raw: value };
}

/** How a run names where its configuration came from, for the first line of its output. */
export function describeConfigChoice(c: ConfigChoice): string {
  if (c.file === undefined) return 'the built-in STACK_ENVIRONMENTS (lib/config/defaults.ts)';
  const where =
    c.source === 'command line'
      ? 'from the command line'
      : c.source === 'cdk.json'
        ? `from cdk.json's context "config"`
        : `from ${c.source}`;
  return `${c.file} (${where})`;
}

/**
 * Loads the chosen configuration. DELIVERY_CONFIG or cdk.json's "config" set to something that
 * is not a file name (empty, a number) is refused, never read as "use the built-in defaults":
 * those hold placeholder accounts.
 */
export function loadChosenConfig(
  c: ConfigChoice & { readonly raw?: unknown },
  repoRoot: string,
): DeliveryConfig {
  if (
    (c.source === CONFIG_ENV_VAR || c.source === 'cdk.json') &&
    (c.file === undefined || c.file.trim() === '')
  ) {
    const name = c.source === 'cdk.json' ? `cdk.json's context "config"` : c.source;
    throw new ConfigError(name, [
      {
        path: 'config',
        message: `${name} is set to ${JSON.stringify(c.raw ?? c.file)}, which is not the path of a JSON file; name one (such as config/example-multi-region.json), or remove it to use the built-in STACK_ENVIRONMENTS`,
      },
    ]);
  }
  return loadConfig({ contextValue: c.file ?? c.raw, cwd: c.baseDir, repoRoot });
}
