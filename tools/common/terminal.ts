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
