import { parseArgs } from 'node:util';
import { UsageError } from './errors';

export interface FlagSpec {
  readonly type: 'string' | 'boolean';
}

type Values<S extends Record<string, FlagSpec>> = {
  [K in keyof S]?: S[K]['type'] extends 'boolean' ? boolean : string;
};

/**
 * Parses `--flag value` / `--flag=value` / `--switch` with node's own parser, strictly: an unknown
 * flag, a positional argument, a flag without its value or a flag given twice is a UsageError
 * naming it (exit 2), never node's wording or a stack trace. Every operator command parses its
 * command line here (the image gate keeps its own parser with the same rules:
 * tools/pipeline/image-gate/args.ts), so one convention holds for all of them.
 */
export function parseFlags<S extends Record<string, FlagSpec>>(
  argv: readonly string[],
  spec: S,
  usage: string,
): Values<S> & { help?: boolean } {
  const options: Record<string, { type: 'string' | 'boolean' }> = { help: { type: 'boolean' } };
  for (const [name, s] of Object.entries(spec)) options[name] = { type: s.type };
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
    throw new UsageError(`${rewordParseError(e as Error & { code?: string })}\n${usage}`);
  }
  // node keeps the last of a repeated flag: `--stage preprod --stage prod` would act on prod.
  const seen = new Set<string>();
  for (const token of parsed.tokens ?? []) {
    if (token.kind !== 'option') continue;
    if (seen.has(token.name))
      throw new UsageError(`--${token.name} is given twice; give it once\n${usage}`);
    seen.add(token.name);
  }
  return parsed.values as Values<S> & { help?: boolean };
}

function rewordParseError(e: Error & { code?: string }): string {
  const quoted = /'([^']+)'/.exec(e.message)?.[1];
  switch (e.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown option ${quoted ?? ''}`.trim();
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return `unexpected argument ${quoted ?? ''} (every value belongs to a --flag)`.trim();
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      return quoted?.endsWith('<value>')
        ? `${quoted.replace(' <value>', '')} needs a value`
        : e.message.split('\n')[0];
    default:
      return e.message.split('\n')[0];
  }
}

/** A required string flag: missing or blank is a UsageError. */
export function requireFlag(value: string | undefined, flag: string, usage: string): string {
  if (value === undefined || value.trim() === '')
    throw new UsageError(`${flag} is required\n${usage}`);
  return value;
}
