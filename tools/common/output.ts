/** Where a tool writes: normal progress to `out`, warnings and errors to `err`. Injected so tests can read both. */
export interface Output {
  out(line: string): void;
  err(line: string): void;
  /** Raw text (a child process's output, a diff), written as is without an added newline. */
  outRaw(text: string): void;
  errRaw(text: string): void;
}

export function processOutput(): Output {
  return {
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
    outRaw: (text) => process.stdout.write(text),
    errRaw: (text) => process.stderr.write(text),
  };
}

/** Collects everything written, for tests and transcripts. */
export function memoryOutput(): Output & {
  readonly stdout: string;
  readonly stderr: string;
  readonly all: string;
} {
  let stdout = '';
  let stderr = '';
  let all = '';
  const add = (to: 'out' | 'err', text: string) => {
    if (to === 'out') stdout += text;
    else stderr += text;
    all += text;
  };
  return {
    out: (line) => add('out', `${line}\n`),
    err: (line) => add('err', `${line}\n`),
    outRaw: (text) => add('out', text),
    errRaw: (text) => add('err', text),
    get stdout() {
      return stdout;
    },
    get stderr() {
      return stderr;
    },
    get all() {
      return all;
    },
  };
}

/** `m:ss` (or `h:mm:ss`) of a duration, for progress lines. */
export function formatElapsed(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
}
