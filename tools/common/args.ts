import { parseArgs } from 'node:util';
import { UsageError } from './errors';

export interface FlagSpec {
  readonly type: 'string' | 'boolean';
  /** A one-letter alias (`-h`). */
  readonly short?: string;
}

type Values<S extends Record<string, FlagSpec>> = {
  [K in keyof S]?: S[K]['type'] extends 'boolean' ? boolean : string;
};

/**
 * `-c` is spelt as for `cdk synth`: `-c config=<file>`. node's parser needs a long name for it;
 * this one is never accepted as `--cdk-context`.
 */
const CONTEXT_OPTION = 'cdk-context';

/**
 * The one command-line parser of every command (operator, pipeline and dev tools): node's own
 * `parseArgs`, strictly. An unknown flag, a positional argument, a flag without its value or a
 * flag given twice is a UsageError naming it (exit 2), never node's wording or a stack trace.
 * `--help`/`-h` is always known. When the spec has `config`, `-c config=<file>` means the same as
 * `--config <file>` (as for `cdk synth`), and giving both is refused.
 */
export function parseFlags<S extends Record<string, FlagSpec>>(
  argv: readonly string[],
  spec: S,
  usage: string,
): Values<S> & { help?: boolean } {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = {
    help: { type: 'boolean', short: 'h' },
  };
  for (const [name, s] of Object.entries(spec))
    options[name] = s.short ? { type: s.type, short: s.short } : { type: s.type };
  const takesConfig = spec.config?.type === 'string';
  if (takesConfig) options[CONTEXT_OPTION] = { type: 'string', short: 'c' };
  const firstLine = usage.split('\n')[0];
  const fail = (message: string): never => {
    throw new UsageError(`${message}\n${firstLine}\n(--help shows every option)`);
  };
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: [...argv],
      options,
      strict: true,
      allowPositionals: false,
      tokens: true,
    });
  } catch (e) {
    return fail(rewordParseError(e as Error & { code?: string }));
  }
  // node keeps the last of a repeated flag: `--stage preprod --stage prod` would act on prod.
  const seen = new Set<string>();
  for (const token of parsed.tokens ?? []) {
    if (token.kind === 'option-terminator')
      fail('unexpected "--" (every value belongs to a --flag)');
    if (token.kind !== 'option') continue;
    if (token.name === CONTEXT_OPTION && token.rawName !== '-c')
      fail(`unknown option ${token.rawName}`);
    const shown = token.name === CONTEXT_OPTION ? '-c' : `--${token.name}`;
    if (seen.has(token.name)) fail(`${shown} is given twice; give it once`);
    seen.add(token.name);
    if (token.kind === 'option' && options[token.name].type === 'string' && token.value === '')
      fail(`${shown} needs a value`);
  }
  const values = { ...parsed.values } as Record<string, string | boolean | undefined>;
  if (takesConfig) {
    const context = values[CONTEXT_OPTION] as string | undefined;
    delete values[CONTEXT_OPTION];
    if (context !== undefined) {
      // The same spelling as `cdk synth -c config=<file>`; no other context key means anything here.
      const m = /^config=(.*)$/s.exec(context);
      if (!m)
        fail(
          `-c takes config=<file.json>, as for cdk synth; got ${JSON.stringify(context)} (or use --config <file.json>)`,
        );
      if (values.config !== undefined)
        fail('give the configuration once: either -c config=<file> or --config <file>');
      values.config = m?.[1];
    }
  }
  return values as Values<S> & { help?: boolean };
}

function rewordParseError(e: Error & { code?: string }): string {
  const quoted = /'([^']+)'/.exec(e.message)?.[1];
  switch (e.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown option ${quoted ?? ''}`.trim();
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return `unexpected argument ${quoted !== undefined ? JSON.stringify(quoted) : ''} (every value belongs to a --flag)`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE': {
      // "Option '-c, --cdk-context <value>' argument missing", "Option '--tag <value>' argument is ambiguous"
      const flag = quoted
        ?.replace(' <value>', '')
        .replace(`-c, --${CONTEXT_OPTION}`, '-c')
        .replace(/^-\w, /, '');
      if (flag && /does not take an argument/.test(e.message)) return `${flag} takes no value`;
      if (flag) return `${flag} needs a value`;
      return e.message.split('\n')[0];
    }
    default:
      return e.message.split('\n')[0];
  }
}

/** A required string flag: missing or blank is a UsageError. */
export function requireFlag(value: string | undefined, flag: string, usage: string): string {
  if (value === undefined || value.trim() === '')
    throw new UsageError(`${flag} is required\n${usage.split('\n')[0]}`);
  return value;
}

/** True when the command line asks for JSON (`--json`), for reporting errors before or during parsing. */
export function wantsJson(argv: readonly string[]): boolean {
  const end = argv.indexOf('--');
  return (end < 0 ? argv : argv.slice(0, end)).includes('--json');
}
