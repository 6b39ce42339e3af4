import { CONFIG_ENV_VAR } from '../../lib/config/config-env';
import { exitCodeHelp } from './errors';
import type { Output } from './output';

/**
 * What every command shares beyond its parser (tools/common/args.ts): the shape of `--help`
 * (usage, what it does, options, the one exit-code table, the runbook), and `--json`: one JSON
 * document on stdout, with progress moved to stderr. docs/decisions/0028-one-command-contract.md.
 */

export interface HelpSpec {
  /** The usage line(s), starting with "Usage: ". */
  readonly usage: string;
  /** What the command does, a few lines. */
  readonly about: string;
  /** The command's own options: [flag, what it does]. */
  readonly options: readonly (readonly [string, string])[];
  /** Takes `-c config=<file>` / `--config <file>`. */
  readonly config?: boolean;
  /** Takes `--json`. */
  readonly json?: boolean;
  /** What its exit code 1 means for this command (the table itself is the same for all). */
  readonly verdict?: string;
  readonly runbook?: string;
}

export const CONFIG_OPTION_HELP: readonly (readonly [string, string])[] = [
  ['-c config=<file>, --config <file>', 'the configuration file, as for cdk synth'],
  [
    '',
    `(default: $${CONFIG_ENV_VAR}, then cdk.json's context "config", then the built-in STACK_ENVIRONMENTS)`,
  ],
];

export const JSON_OPTION_HELP: readonly [string, string] = [
  '--json',
  'print one JSON document on stdout (the result); progress goes to stderr',
];

/** The whole `--help` text of a command. */
export function helpText(h: HelpSpec): string {
  const options: (readonly [string, string])[] = [...h.options];
  if (h.config) options.push(...CONFIG_OPTION_HELP);
  if (h.json) options.push(JSON_OPTION_HELP);
  options.push(['-h, --help', 'print this text']);
  const width = Math.min(36, Math.max(...options.map(([flag]) => flag.length)));
  const lines = [h.usage, '', h.about, '', 'Options:'];
  for (const [flag, text] of options) {
    if (flag.length > width) lines.push(`  ${flag}`, `  ${' '.repeat(width)}  ${text}`);
    else lines.push(`  ${flag.padEnd(width)}  ${text}`);
  }
  lines.push('', exitCodeHelp());
  if (h.verdict) lines.push(`Here, 1 means: ${h.verdict}.`);
  if (h.runbook) lines.push(`Runbook: ${h.runbook}`);
  return lines.join('\n');
}

/**
 * The output a command writes its progress to: in `--json` mode everything goes to stderr, so
 * that stdout holds nothing but the one JSON document (printJson).
 */
export function progressOutput(output: Output, json: boolean): Output {
  if (!json) return output;
  return {
    out: (line) => output.err(line),
    err: (line) => output.err(line),
    outRaw: (text) => output.errRaw(text),
    errRaw: (text) => output.errRaw(text),
  };
}

/** The command's one JSON document, on stdout. `exitCode` is always part of it. */
export function printJson(
  output: Output,
  command: string,
  exitCode: number,
  result: Record<string, unknown>,
): void {
  output.outRaw(`${JSON.stringify({ command, exitCode, ...result }, null, 2)}\n`);
}
