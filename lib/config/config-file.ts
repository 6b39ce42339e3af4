import { isUtf8 } from 'node:buffer';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { visit } from 'jsonc-parser';
import { formatPath } from './schema';
import { SAFE_CONFIG_PATH } from './safe-path';

/**
 * Reading `-c config=<file>` safely. The file is refused, unread, unless it is a regular file
 * of bounded size whose real path (symlinks resolved) lies inside the repository: the pipeline's
 * own synth step in CodeBuild sees only the repository, and a FIFO, a device or /dev/zero must
 * neither hang nor fill memory. A refused file's content is never shown, not even the excerpt
 * JSON.parse would put in its message.
 */

/** Far above any real config (the 4-environment example is under 2 KiB). */
export const MAX_CONFIG_FILE_BYTES = 1024 * 1024;

export { SAFE_CONFIG_PATH } from './safe-path';

/** Why a config file could not be used; `message` never holds the file's content. */
export class ConfigFileError extends Error {}

/**
 * The file's JSON text, its path relative to the repository root (with "/" separators), and
 * whether its bytes are UTF-8 (when they are not, `text` holds U+FFFD where they were).
 */
export function readConfigFile(
  contextValue: string,
  cwd: string,
  repoRoot: string,
): { text: string; relative: string; utf8: boolean } {
  const given = path.resolve(cwd, contextValue);
  // A root that does not exist holds no file: every path is outside it.
  const realRoot = fs.existsSync(repoRoot) ? fs.realpathSync(repoRoot) : path.resolve(repoRoot);
  let real: string;
  try {
    real = fs.realpathSync(given);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR')
      throw new ConfigFileError(
        `${given} does not exist; give a JSON file of the STACK_ENVIRONMENTS shape, e.g. -c config=config/example-multi-region.json`,
      );
    throw new ConfigFileError(`${given} cannot be resolved (${code ?? 'error'})`);
  }
  const relativeReal = path.relative(realRoot, real);
  if (relativeReal === '' || relativeReal.startsWith('..') || path.isAbsolute(relativeReal)) {
    const via = real === given ? '' : ` (it resolves to ${real})`;
    throw new ConfigFileError(
      `${given} is outside the repository (${realRoot})${via}; commit the file inside the repository so the pipeline's synth step uses the same configuration`,
    );
  }
  // The path the pipeline will use is the one given (a symlink inside the repository to a file
  // inside it is fine: git stores the link, and it resolves the same way in CodeBuild).
  const relative = path
    .relative(realRoot, path.join(fs.realpathSync(path.dirname(given)), path.basename(given)))
    .split(path.sep)
    .join('/');
  if (relative.startsWith('..') || !SAFE_CONFIG_PATH.test(relative)) {
    throw new ConfigFileError(
      `the path ${JSON.stringify(relative)} may hold only letters, digits, ".", "_", "-" and "/" between names, for example config/prod.json: the pipeline passes it to its synth command`,
    );
  }

  // O_NONBLOCK: opening a FIFO must not wait for a writer; the fstat below then refuses it.
  let fd: number;
  try {
    fd = fs.openSync(real, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  } catch (e) {
    throw new ConfigFileError(
      `${given} cannot be read (${(e as NodeJS.ErrnoException).code ?? 'error'})`,
    );
  }
  try {
    const stat = fs.fstatSync(fd);
    if (!stat.isFile())
      throw new ConfigFileError(`${given} is not a regular file; give a JSON file`);
    if (stat.size > MAX_CONFIG_FILE_BYTES)
      throw new ConfigFileError(
        `${given} is ${stat.size} bytes; a config file may be at most ${MAX_CONFIG_FILE_BYTES} bytes`,
      );
    // Read at most one byte past the limit, in case the file grows while it is read.
    const buffer = Buffer.alloc(MAX_CONFIG_FILE_BYTES + 1);
    let length = 0;
    for (;;) {
      const n = fs.readSync(fd, buffer, length, buffer.length - length, null);
      if (n === 0) break;
      length += n;
      if (length > MAX_CONFIG_FILE_BYTES)
        throw new ConfigFileError(
          `${given} is larger than ${MAX_CONFIG_FILE_BYTES} bytes; a config file may be at most that`,
        );
    }
    const bytes = buffer.subarray(0, length);
    return { text: bytes.toString('utf8'), relative, utf8: isUtf8(bytes) };
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * JSON.parse, with an error that says where the text stops being JSON but never quotes it
 * (V8's messages include an excerpt of the input).
 */
export function parseConfigJson(text: string, shown: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    const position = /at position (\d+)/.exec((e as Error).message);
    if (position) {
      const before = text.slice(0, Number(position[1]));
      const line = before.split('\n').length;
      const column = before.length - before.lastIndexOf('\n');
      throw new ConfigFileError(`${shown} is not valid JSON (line ${line}, column ${column})`);
    }
    throw new ConfigFileError(`${shown} is not valid JSON`);
  }
}

/**
 * What JSON.parse would change in the file without a word, each with its path: a key given twice
 * in one object (JSON.parse keeps the last and drops the first), and, when the file is not UTF-8
 * (`utf8` false), every string that held such bytes (decoding replaced them with U+FFFD). Read with
 * jsonc-parser's visitor, which reports every property with its path and line; JSON.parse
 * reports neither.
 */
export function silentChanges(
  text: string,
  utf8: boolean,
  shown: string,
): { path: string; message: string }[] {
  const problems: { path: string; message: string }[] = [];
  const objects: Map<string, number>[] = [];
  const notUtf8 = (at: (string | number)[], line: number) =>
    problems.push({
      path: formatPath(at),
      message: `holds bytes that are not UTF-8 (line ${line + 1}); save ${shown} as UTF-8`,
    });
  visit(
    text,
    {
      onObjectBegin: () => {
        objects.push(new Map());
      },
      onObjectEnd: () => {
        objects.pop();
      },
      onObjectProperty: (property, _offset, _length, line, _character, pathSupplier) => {
        const at = [...pathSupplier(), property];
        if (!utf8 && property.includes('\ufffd')) notUtf8(at, line);
        const keys = objects[objects.length - 1];
        const first = keys?.get(property);
        if (first === undefined) {
          keys?.set(property, line);
          return;
        }
        problems.push({
          path: formatPath(at),
          message: `is given twice in ${shown} (lines ${first + 1} and ${line + 1}); JSON keeps only the last one: remove one of them`,
        });
      },
      onLiteralValue: (value, _offset, _length, line, _character, pathSupplier) => {
        if (!utf8 && typeof value === 'string' && value.includes('\ufffd'))
          notUtf8(pathSupplier(), line);
      },
    },
    { disallowComments: true },
  );
  if (!utf8 && !problems.some((p) => p.message.startsWith('holds bytes'))) {
    // Outside any string: JSON.parse would refuse the file anyway; say why.
    const line = text.slice(0, Math.max(0, text.indexOf('\ufffd'))).split('\n').length;
    problems.unshift({
      path: 'config',
      message: `${shown} is not UTF-8 (line ${line}); save it as UTF-8`,
    });
  }
  return problems;
}
