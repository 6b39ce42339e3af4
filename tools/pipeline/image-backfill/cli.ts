import { ECRClient } from '@aws-sdk/client-ecr';
import { parseFlags } from '../../common/args';
import { helpText, printJson } from '../../common/command';
import { EXIT_COULD_NOT_CHECK, UsageError, exitCodeOf } from '../../common/errors';
import { readBoundedFile } from '../../common/files';
import { memoryOutput } from '../../common/output';
import { IMAGE_TAG, MAX_TAG_FILE_BYTES } from '../../common/image-tag';
import { KNOWN_REGIONS } from '../image-gate/regions';
import { type BackfillDeps, type BackfillOptions, runBackfill } from './backfill';

const USAGE_LINE =
  'Usage: npx delivery image-backfill --repository <name> (--tag <tag> | --tag-file <image.json>) --source-region <region> --regions <r1,r2,...> --registry-id <account> [options]';

/**
 * `node image-backfill.cjs --repository <name> --tag-file image.json --source-region eu-west-1
 * --regions us-east-1,ap-southeast-2 --registry-id 111111111111`: run by the pipeline's Image stage
 * after the build, before any gate. Exit codes: the one table of tools/common/errors.ts. The last
 * line says what happened and why; never a stack trace.
 */
export const BACKFILL_USAGE = helpText({
  usage: `${USAGE_LINE}
       (in the pipeline: node image-backfill.cjs ..., bundled by npm run bundle:tools)`,
  about: `Makes sure every region's replica holds <name>:<tag>, as pushed in --source-region: the same
manifest (PutImage) when the replica holds its layers, otherwise ECR's replication backfill.`,
  options: [
    ['--repository <name>', 'ECR repository name (may be left out when --tag-file names it)'],
    ['--tag <tag>', 'image tag'],
    ['--tag-file <path>', `JSON file with {"tag": "..."}, such as the pipeline's image.json`],
    ['--source-region <region>', 'where the image was pushed'],
    ['--regions <r1,r2,...>', 'regions whose replica must hold the tag'],
    ['--registry-id <account>', 'the account of the registry'],
    ['--timeout <seconds>', 'the whole run (default 1800)'],
    ['--poll-interval <seconds>', 'time between checks of a backfill (default 10)'],
  ],
  json: true,
  verdict: 'never (3: a region could not be made to hold the tag)',
});

const SPEC = {
  repository: { type: 'string' },
  tag: { type: 'string' },
  'tag-file': { type: 'string' },
  'source-region': { type: 'string' },
  regions: { type: 'string' },
  'registry-id': { type: 'string' },
  timeout: { type: 'string' },
  'poll-interval': { type: 'string' },
  json: { type: 'boolean' },
} as const;

const REPOSITORY_NAME = /^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$/;

function region(flag: string, value: string): string {
  if (!KNOWN_REGIONS.includes(value))
    throw new UsageError(`${flag}: ${JSON.stringify(value)} is not an AWS region`);
  return value;
}

function seconds(
  flag: string,
  value: string | undefined,
  fallback: number,
  min: number,
  max: number,
): number {
  if (value === undefined) return fallback;
  const n = /^\d+$/.test(value) ? Number(value) : NaN;
  if (!(n >= min && n <= max))
    throw new UsageError(
      `${flag}: ${JSON.stringify(value)} must be a whole number of seconds from ${min} to ${max}`,
    );
  return n;
}

export async function parseBackfillArgs(
  argv: readonly string[],
  readTagFile?: (path: string) => Promise<string>,
): Promise<(BackfillOptions & { readonly json: boolean }) | 'help'> {
  const flags = parseFlags(argv, SPEC, USAGE_LINE);
  if (flags.help) return 'help';
  let tag = flags.tag;
  let repository = flags.repository;
  if ((tag === undefined) === (flags['tag-file'] === undefined))
    throw new UsageError('give exactly one of --tag and --tag-file');
  const timeoutSeconds = seconds('--timeout', flags.timeout, 1800, 1, 86400);
  const tagFile = flags['tag-file'];
  if (tagFile !== undefined) {
    // A regular file of bounded size, read within a bound (tools/common/files.ts): a FIFO or
    // /dev/zero must neither hang the Image stage nor fill its memory.
    const text = await (
      readTagFile ??
      ((p: string) =>
        readBoundedFile(p, {
          what: `--tag-file ${p}`,
          maxBytes: MAX_TAG_FILE_BYTES,
          timeoutMs: Math.min(20000, timeoutSeconds * 1000),
        }))
    )(tagFile);
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch {
      throw new UsageError(`--tag-file ${tagFile}: not valid JSON`);
    }
    const file = (typeof data === 'object' && data !== null ? data : {}) as {
      tag?: unknown;
      repositoryName?: unknown;
    };
    if (typeof file.tag !== 'string')
      throw new UsageError(`--tag-file ${tagFile}: no string "tag" field`);
    tag = file.tag;
    if (repository === undefined && typeof file.repositoryName === 'string')
      repository = file.repositoryName;
  }
  if (repository === undefined || !REPOSITORY_NAME.test(repository))
    throw new UsageError(
      `--repository: ${JSON.stringify(repository ?? '')} is not an ECR repository name`,
    );
  if (tag === undefined || !IMAGE_TAG.test(tag))
    throw new UsageError(`tag ${JSON.stringify(tag ?? '')} is not a valid image tag`);
  if (flags['source-region'] === undefined) throw new UsageError('--source-region is required');
  if (flags.regions === undefined) throw new UsageError('--regions is required (comma-separated)');
  const registryId = flags['registry-id'];
  if (registryId === undefined || !/^\d{12}$/.test(registryId))
    throw new UsageError('--registry-id must be a 12-digit AWS account id');
  return {
    repository,
    tag,
    sourceRegion: region('--source-region', flags['source-region']),
    regions: [...new Set(flags.regions.split(',').map((r) => region('--regions', r.trim())))],
    registryId,
    timeoutSeconds,
    pollIntervalSeconds: seconds('--poll-interval', flags['poll-interval'], 10, 1, 300),
    json: flags.json === true,
  };
}

export interface BackfillIo {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
  readonly readTagFile?: (path: string) => Promise<string>;
  readonly deps?: Partial<Omit<BackfillDeps, 'log'>>;
}

export async function main(
  argv: readonly string[] = process.argv.slice(2),
  io: BackfillIo = {
    out: (l) => process.stdout.write(`${l}\n`),
    err: (l) => process.stderr.write(`${l}\n`),
  },
): Promise<number> {
  let json = argv.includes('--json');
  // --json: the result is one JSON document on stdout; every line goes to stderr.
  const say = (line: string) => (json ? io.err(line) : io.out(line));
  const document = (exitCode: number, result: Record<string, unknown>) => {
    if (!json) return;
    const doc = memoryOutput();
    printJson(doc, 'image-backfill', exitCode, result);
    io.out(doc.stdout.trimEnd());
  };
  try {
    const options = await parseBackfillArgs(argv, io.readTagFile);
    if (options === 'help') {
      io.out(BACKFILL_USAGE);
      return 0;
    }
    json = options.json;
    const result = await runBackfill(options, {
      ecrClient: io.deps?.ecrClient ?? ((r) => new ECRClient({ region: r })),
      sleep: io.deps?.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms))),
      now: io.deps?.now ?? Date.now,
      callTimeoutMs: io.deps?.callTimeoutMs,
      log: say,
    });
    (result.verdict === 'OK' ? say : io.err)(`image-backfill: ${result.verdict} ${result.reason}`);
    document(result.exitCode, {
      verdict: result.verdict,
      reason: result.reason,
      regions: result.regions,
    });
    return result.exitCode;
  } catch (e) {
    const message = (e instanceof Error ? e.message : String(e)).split('\n')[0];
    const code = exitCodeOf(e) ?? EXIT_COULD_NOT_CHECK;
    io.err(`image-backfill: ERROR ${message}${e instanceof UsageError ? ' (see --help)' : ''}`);
    document(code, { verdict: 'ERROR', error: message });
    return code;
  }
}

if (require.main === module) {
  void main().then((code) => {
    process.exitCode = code;
  });
}
