/**
 * Text from outside (a --reason, a flag's value, a name read from AWS) made safe to print: C0 and
 * C1 control characters (ESC starts ANSI sequences, CR rewrites a line, LF forges one, U+009B is a
 * one-byte CSI) and Unicode bidi overrides (which reorder what is shown) become visible escapes
 * such as `\x1b`, `\r`, `\u202e`. Only what is printed is neutralised: the audit record stores
 * the text as given.
 */
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

export function safeForTerminal(text: string): string {
  return text.replace(
    UNSAFE,
    (c) =>
      NAMED[c] ??
      (c.charCodeAt(0) <= 0xff
        ? `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`
        : `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`),
  );
}

/** The most of one value from outside that is printed; a longer one is cut, and its length said. */
export const MAX_SHOWN_CHARS = 120;

/**
 * A value read from AWS (or a file), as a message quotes it: in double quotes, escaped for the
 * terminal (safeForTerminal) and cut to `max` characters, with its real length after the cut:
 * `"1.35.2-2026..." (1048581 characters)`. A 1 MB value becomes one short line.
 */
export function shownValue(value: string, max: number = MAX_SHOWN_CHARS): string {
  if (value.length <= max) return `"${safeForTerminal(value)}"`;
  let cut = value.slice(0, max);
  // Never split a surrogate pair.
  if (/[\ud800-\udbff]$/.test(cut)) cut = cut.slice(0, -1);
  return `"${safeForTerminal(cut)}..." (${value.length} characters)`;
}
