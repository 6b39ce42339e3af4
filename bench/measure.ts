import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** GNU time, whose `%M` is the peak RSS of the largest single process it waited for. */
export const GNU_TIME = '/usr/bin/time';

/**
 * What GNU time writes: user CPU seconds, system CPU seconds, peak RSS in KiB. `%U`/`%S` are the
 * rusage of the command and every descendant it (or they) waited for, i.e. the whole process tree
 * of a synth (npx, the CDK CLI, the app); `%M` is the largest single process's ru_maxrss.
 */
export const GNU_TIME_FORMAT = '%U %S %M';

export interface GnuTimeFigures {
  readonly userSeconds: number;
  readonly systemSeconds: number;
  readonly maxRssKiB: number;
}

/**
 * Reads GNU time's output file (`-f GNU_TIME_FORMAT -o file`). When the command fails, GNU time
 * writes "Command exited with non-zero status N" (or "Command terminated by signal N") first, so
 * the figures are on the last line. Undefined when the file holds no such line.
 */
export function parseGnuTime(text: string): GnuTimeFigures | undefined {
  const lines = text.trim().split('\n');
  const m = /^(\d+(?:\.\d+)?) (\d+(?:\.\d+)?) (\d+)$/.exec(lines[lines.length - 1].trim());
  if (!m) return undefined;
  return { userSeconds: Number(m[1]), systemSeconds: Number(m[2]), maxRssKiB: Number(m[3]) };
}

export function gnuTimeAvailable(): boolean {
  try {
    fs.accessSync(GNU_TIME, fs.constants.X_OK);
    return true;
  } catch {
    // Not installed (Debian: `apt-get install time`); the caller reports "n/a" with this reason.
    return false;
  }
}

export interface Measurement {
  readonly wallSeconds: number;
  readonly exitCode: number;
  /**
   * Peak RSS of the largest single process of the tree, in KiB, from `/usr/bin/time -f %M`
   * (the kernel's ru_maxrss over every waited-for descendant); undefined without GNU time.
   */
  readonly largestProcessPeakKiB?: number;
  /**
   * CPU seconds (user + system) of the whole process tree, from GNU time's `%U + %S`; undefined
   * without GNU time. A process that is never waited for (a daemon that outlives the command) is
   * not counted; nothing the benchmark runs leaves one.
   */
  readonly cpuSeconds?: number;
  /** Highest sum of VmRSS over the whole process tree seen by sampling /proc every `sampleMs`, in KiB. */
  readonly treePeakKiB: number;
  /** The last few KiB of stdout and stderr, for error messages. */
  readonly outputTail: string;
}

export interface MeasureOptions {
  readonly cwd: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Wrap the command in /usr/bin/time for the exact largest-process peak. @default true when present */
  readonly gnuTime?: boolean;
  /** How often the process tree is sampled. @default 100 */
  readonly sampleMs?: number;
  /** Called with each line the command prints (stdout and stderr), e.g. to show progress. */
  readonly onLine?: (line: string) => void;
}

/** Parses /proc/<pid>/stat into its parent pid; the command name may hold spaces and parentheses. */
function parentOf(pid: number): number | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[1]);
  } catch {
    return undefined; // the process ended between readdir and read
  }
}

function rssKiB(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0; // the process ended between readdir and read
  }
}

/** Sum of VmRSS of `root` and all its descendants right now. */
export function processTreeRssKiB(root: number): number {
  const children = new Map<number, number[]>();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    const ppid = parentOf(pid);
    if (ppid === undefined) continue;
    const list = children.get(ppid);
    if (list) list.push(pid);
    else children.set(ppid, [pid]);
  }
  let total = 0;
  const queue = [root];
  while (queue.length > 0) {
    const pid = queue.pop() as number;
    total += rssKiB(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return total;
}

/**
 * Runs a command to completion and measures its wall time and memory: the largest process's peak
 * (GNU time) and the process tree's peak (sampled; a lower bound, since a peak between two samples
 * is missed). Never throws for a failing command: the exit code is part of the result.
 */
export function measure(
  command: string,
  args: readonly string[],
  options: MeasureOptions,
): Promise<Measurement> {
  const useTime = (options.gnuTime ?? true) && gnuTimeAvailable();
  const timeFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'bench-time-')), 'maxrss');
  const [cmd, argv] = useTime
    ? [GNU_TIME, ['-f', GNU_TIME_FORMAT, '-o', timeFile, command, ...args]]
    : [command, [...args]];
  const started = process.hrtime.bigint();
  const child = spawn(cmd, argv, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let treePeakKiB = 0;
  const sample = () => {
    if (child.pid !== undefined) treePeakKiB = Math.max(treePeakKiB, processTreeRssKiB(child.pid));
  };
  const timer = setInterval(sample, options.sampleMs ?? 100);
  let tail = '';
  let partial = '';
  const onData = (chunk: Buffer) => {
    const text = chunk.toString('utf8');
    tail = (tail + text).slice(-4096);
    if (options.onLine) {
      const lines = (partial + text).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) options.onLine(line);
    }
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  return new Promise((resolve, reject) => {
    child.on('error', (e) => {
      clearInterval(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearInterval(timer);
      const wallSeconds = Number(process.hrtime.bigint() - started) / 1e9;
      let largestProcessPeakKiB: number | undefined;
      let cpuSeconds: number | undefined;
      const figures =
        useTime && fs.existsSync(timeFile)
          ? parseGnuTime(fs.readFileSync(timeFile, 'utf8'))
          : undefined;
      if (figures) {
        largestProcessPeakKiB = figures.maxRssKiB > 0 ? figures.maxRssKiB : undefined;
        cpuSeconds = figures.userSeconds + figures.systemSeconds;
      }
      fs.rmSync(path.dirname(timeFile), { recursive: true, force: true });
      if (partial && options.onLine) options.onLine(partial);
      resolve({
        wallSeconds,
        exitCode: code ?? (signal ? 128 : 1),
        largestProcessPeakKiB,
        cpuSeconds,
        treePeakKiB,
        outputTail: tail,
      });
    });
  });
}
