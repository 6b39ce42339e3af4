import * as fs from 'node:fs';
import * as path from 'node:path';
import { TimeoutError, UsageError } from './errors';
import { formatSeconds } from './control';

/**
 * Files and directories a command line names, handled the way the config file is
 * (lib/config/config-file.ts): nothing a user names can hang a command, fill its memory or spin.
 */

/** Why a path could not be used: the errno code, which never quotes the file's content. */
function code(e: unknown): string {
  return (e as NodeJS.ErrnoException).code ?? (e as Error).message;
}

/**
 * Reads a file named on the command line: a regular file of at most `maxBytes`, read within
 * `timeoutMs`. A FIFO is refused without waiting for a writer (O_NONBLOCK, then fstat), a device
 * such as /dev/zero without reading it, a file larger than the limit unread (and at most one byte
 * past the limit is ever read, should it grow meanwhile). Bad usage (exit 2) for all of these;
 * a read that does not finish in time is a TimeoutError (exit 124).
 */
export async function readBoundedFile(
  file: string,
  o: { readonly what: string; readonly maxBytes: number; readonly timeoutMs: number },
): Promise<string> {
  let handle: fs.promises.FileHandle;
  try {
    handle = await fs.promises.open(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  } catch (e) {
    throw new UsageError(`${o.what}: cannot read it (${code(e)})`);
  }
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new TimeoutError(
            `${o.what}: not read within ${formatSeconds(o.timeoutMs)}; is it on a stalled file system?`,
          ),
        ),
      o.timeoutMs,
    );
  });
  const read = async (): Promise<string> => {
    const stat = await handle.stat();
    if (!stat.isFile())
      throw new UsageError(
        `${o.what}: not a regular file (a device, a pipe or a directory); give the file itself`,
      );
    const tooBig = (size: string) =>
      new UsageError(
        `${o.what}: ${size} bytes, more than the ${o.maxBytes} it may have: is it the right file?`,
      );
    if (stat.size > o.maxBytes) throw tooBig(String(stat.size));
    const buffer = Buffer.alloc(o.maxBytes + 1);
    let length = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, null);
      if (bytesRead === 0) break;
      length += bytesRead;
      if (length > o.maxBytes) throw tooBig(`more than ${o.maxBytes}`);
    }
    return buffer.subarray(0, length).toString('utf8');
  };
  try {
    return await Promise.race([read(), deadline]);
  } catch (e) {
    if (e instanceof UsageError || e instanceof TimeoutError) throw e;
    throw new UsageError(`${o.what}: cannot read it (${code(e)})`);
  } finally {
    clearTimeout(timer);
    // Closing waits for nothing: a read still pending on a stalled file system is abandoned.
    void handle.close().catch(() => undefined);
  }
}

/**
 * Makes `dir` (and its missing parents) a directory this process can write into, one level at a
 * time: node's `mkdirSync(dir, { recursive: true })` loops forever where a parent's creation
 * fails with ENOENT (under /proc, for one). Bad usage when it cannot be done; nothing is left
 * half-made beyond the directories that could be created.
 */
export function makeDirectory(dir: string, what: string): string {
  const target = path.resolve(dir);
  const missing: string[] = [];
  for (let current = target; ;) {
    let stat: fs.Stats;
    try {
      stat = fs.statSync(current);
    } catch (e) {
      if (code(e) !== 'ENOENT')
        throw new UsageError(`${what}: cannot create ${current} (${code(e)})`);
      missing.unshift(current);
      const parent = path.dirname(current);
      if (parent === current) break;
      current = parent;
      continue;
    }
    if (!stat.isDirectory())
      throw new UsageError(
        current === target
          ? `${what} is a file, not a directory; name a directory (it is created if missing)`
          : `${what}: cannot create it, ${current} is a file`,
      );
    break;
  }
  for (const d of missing) {
    try {
      fs.mkdirSync(d);
    } catch (e) {
      if (code(e) === 'EEXIST' && fs.statSync(d).isDirectory()) continue;
      throw new UsageError(`${what}: cannot create ${d} (${code(e)})`);
    }
  }
  try {
    fs.accessSync(target, fs.constants.W_OK);
  } catch (e) {
    throw new UsageError(`${what}: cannot write into ${target} (${code(e)})`);
  }
  return target;
}
