import * as fs from 'node:fs';
import * as path from 'node:path';
import { REPO_ROOT } from './paths';

export const RUNBOOKS_DIR = path.join(REPO_ROOT, 'docs', 'runbooks');

/** One shell line of a runbook, continuation lines joined, with where it stands. */
export interface RunbookLine {
  readonly file: string;
  /** 1-based line number of its first line. */
  readonly line: number;
  readonly text: string;
  /** In a fenced code block (a command to paste), or an inline `code span` of the prose. */
  readonly inBlock: boolean;
  /** Index of the code block it is in (commands of one block run one after the other). */
  readonly block: number;
}

/**
 * The shell lines of a runbook, in document order: every line of a fenced code block (a trailing
 * `\` joins the next), and every inline code span of the prose (a span may wrap a line).
 */
export function runbookLines(file: string): RunbookLine[] {
  const lines = fs.readFileSync(path.join(RUNBOOKS_DIR, file), 'utf8').split('\n');
  const out: RunbookLine[] = [];
  let inBlock = false;
  let block = -1;
  let prose: { start: number; text: string } | undefined;
  const flushProse = () => {
    if (!prose) return;
    for (const m of prose.text.matchAll(/`([^`]+)`/g))
      out.push({ file, line: prose.start, text: m[1].trim(), inBlock: false, block: -1 });
    prose = undefined;
  };
  for (let i = 0; i < lines.length; i++) {
    const trimmed = lines[i].trim();
    if (trimmed.startsWith('```')) {
      flushProse();
      inBlock = !inBlock;
      if (inBlock) block += 1;
      continue;
    }
    if (!inBlock) {
      if (trimmed === '') flushProse();
      else
        prose = prose
          ? { ...prose, text: `${prose.text} ${trimmed}` }
          : { start: i + 1, text: trimmed };
      continue;
    }
    let text = trimmed;
    const start = i + 1;
    // a trailing `\` joins the next line; so does a quote still open (a multi-line argument)
    for (;;) {
      if (text.endsWith('\\') && i + 1 < lines.length)
        text = `${text.slice(0, -1).trimEnd()} ${lines[++i].trim()}`;
      else if (openQuote(text) && i + 1 < lines.length) text = `${text}\n${lines[++i]}`;
      else break;
    }
    out.push({ file, line: start, text, inBlock: true, block });
  }
  flushProse();
  return out;
}

/** What the operator fills in: `<the source action's name>`. */
const PLACEHOLDER = /^<[A-Za-z][^<>]*>/;

/** True when `text` ends inside a quoted string, as the shell reads it. */
function openQuote(text: string): boolean {
  let quote: string | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote) {
      if (c === quote) quote = undefined;
      else if (c === '\\' && quote === '"') i++;
    } else if (c === '\\') i++;
    else if (c === '<' && PLACEHOLDER.test(text.slice(i)))
      // a placeholder for the operator (`<the source action's name>`), not shell syntax
      i += (PLACEHOLDER.exec(text.slice(i)) as RegExpExecArray)[0].length - 1;
    else if (c === "'" || c === '"') quote = c;
    else if (c === '#' && /\s/.test(text[i - 1] ?? ' ')) return false;
  }
  return quote !== undefined;
}

/** The text from `open` (the index of a `$(`) to its matching `)`, quotes respected. */
function substitution(text: string, open: number): string | undefined {
  let depth = 0;
  let quote: string | undefined;
  for (let i = open + 1; i < text.length; i++) {
    const c = text[i];
    if (quote) {
      if (c === quote) quote = undefined;
      else if (c === '\\' && quote === '"') i++;
      continue;
    }
    if (c === "'" || c === '"') quote = c;
    else if (c === '(') depth++;
    else if (c === ')' && --depth === 0) return text.slice(open + 2, i);
  }
  return undefined;
}

/** A command cut where the shell would end it: at an unquoted `|`, `&&`, `||`, `;`, `>` or ` #`. */
function simpleCommand(text: string): string {
  let quote: string | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote) {
      if (c === quote) quote = undefined;
      else if (c === '\\' && quote === '"') i++;
      continue;
    }
    if (c === "'" || c === '"') quote = c;
    else if (c === '<' && PLACEHOLDER.test(text.slice(i)))
      i += (PLACEHOLDER.exec(text.slice(i)) as RegExpExecArray)[0].length - 1;
    else if ('|;>&'.includes(c) || (c === '#' && /\s/.test(text[i - 1] ?? ' ')))
      return text.slice(0, i).trim();
  }
  return text.trim();
}

/** One `aws ...` invocation of a runbook. */
export interface AwsCommand extends RunbookLine {
  /** The invocation alone (a `$(...)` around it or a pipe after it taken away). */
  readonly command: string;
  /** The variable its output is assigned to (`TOKEN=$(aws ...)`). */
  readonly assigns?: string;
}

/** Every `aws <service> <operation> ...` invocation of a runbook, in document order. */
export function runbookAwsCommands(file: string): AwsCommand[] {
  const out: AwsCommand[] = [];
  for (const l of runbookLines(file)) {
    const assigned = /^(?:export\s+)?([A-Z_][A-Z0-9_]*)=\$\(aws\s/.exec(l.text);
    if (assigned) {
      const inner = substitution(l.text, l.text.indexOf('$('));
      if (inner) out.push({ ...l, command: simpleCommand(inner), assigns: assigned[1] });
      continue;
    }
    for (const m of l.text.matchAll(/\$\(aws\s/g)) {
      const inner = substitution(l.text, m.index);
      if (inner) out.push({ ...l, command: simpleCommand(inner) });
    }
    // `aws ...` at the start of the line (or of the span); `aws sso login` is interactive.
    if (/^aws\s+[a-z0-9-]+\s+[a-z0-9-]+/.test(l.text))
      out.push({ ...l, command: simpleCommand(l.text) });
  }
  return out;
}

/** `NAME=value` and `export NAME=value` lines of a runbook's code blocks whose value is plain text. */
export function runbookAssignments(file: string): Map<string, string> {
  const vars = new Map<string, string>();
  const pair = /^([A-Z_][A-Z0-9_]*)=("[^"$`]*"|'[^']*'|[^\s"'$`;|&]+)(?:\s+|$)/;
  for (const l of runbookLines(file)) {
    if (!l.inBlock) continue;
    // `NAME=value`, or `export A=x B=y`: every pair of the line
    let rest = l.text.replace(/^export\s+/, '');
    for (let m = pair.exec(rest); m; m = pair.exec(rest)) {
      vars.set(m[1], m[2].replace(/^(["'])(.*)\1$/, '$2'));
      rest = rest.slice(m[0].length);
    }
  }
  return vars;
}
