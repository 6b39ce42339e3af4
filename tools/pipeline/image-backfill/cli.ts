import * as fs from 'node:fs';
import { ECRClient } from '@aws-sdk/client-ecr';
import { parseFlags } from '../../common/args';
import { UsageError } from '../../common/errors';
import { KNOWN_REGIONS } from '../image-gate/regions';
import { type BackfillDeps, type BackfillOptions, runBackfill } from './backfill';

/**
 * `node image-backfill.cjs --repository <repository> --tag-file image.json --source-region eu-west-1
 * --regions us-east-1,ap-southeast-2 --registry-id 111111111111`: run by the pipeline's Image stage
 * after the build, before any gate. Exit 0 every region holds the tag, 2 error (bad arguments too),
 * 3 timed out. The last line says which and why; never a stack trace.
 */
export const BACKFILL_USAGE = `Usage: image-backfill --repository <name> (--tag <tag> | --tag-file <image.json>) --source-region <region>
                      --regions <r1,r2,...> --registry-id <account> [--timeout <seconds>] [--poll-interval <seconds>]

Makes sure every region's replica holds <name>:<tag>, as pushed in --source-region: the same
manifest (PutImage) when the replica holds its layers, otherwise ECR's replication backfill.
Exit codes: 0 every region holds the tag, 2 ERROR (also bad arguments), 3 TIMEOUT (--timeout, default 1800).`;

const SPEC = {
  repository: { type: 'string' },
  tag: { type: 'string' },
  'tag-file': { type: 'string' },
  'source-region': { type: 'string' },
  regions: { type: 'string' },
  'registry-id': { type: 'string' },
  timeout: { type: 'string' },
  'poll-interval': { type: 'string' },
} as const;

const REPOSITORY_NAME = /^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$/;
const IMAGE_TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

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

export function parseBackfillArgs(
  argv: readonly string[],
  readFile: (path: string) => string = (p) => fs.readFileSync(p, 'utf8'),
): BackfillOptions | 'help' {
  for (const name of Object.keys(SPEC)) {
    if (argv.filter((a) => a === `--${name}` || a.startsWith(`--${name}=`)).length > 1)
      throw new UsageError(`--${name} is given twice`);
  }
  const flags = parseFlags(argv, SPEC, BACKFILL_USAGE);
  if (flags.help) return 'help';
  let tag = flags.tag;
  let repository = flags.repository;
  if ((tag === undefined) === (flags['tag-file'] === undefined))
    throw new UsageError('give exactly one of --tag and --tag-file');
  if (flags['tag-file'] !== undefined) {
    let data: unknown;
    try {
      data = JSON.parse(readFile(flags['tag-file']));
    } catch (e) {
      throw new UsageError(
        `--tag-file ${flags['tag-file']}: cannot read it as JSON (${e instanceof Error ? e.message : String(e)})`,
      );
    }
    const file = (typeof data === 'object' && data !== null ? data : {}) as {
      tag?: unknown;
      repositoryName?: unknown;
    };
    if (typeof file.tag !== 'string')
      throw new UsageError(`--tag-file ${flags['tag-file']}: no string "tag" field`);
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
    timeoutSeconds: seconds('--timeout', flags.timeout, 1800, 1, 86400),
    pollIntervalSeconds: seconds('--poll-interval', flags['poll-interval'], 10, 1, 300),
  };
}

export interface BackfillIo {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
  readonly readFile?: (path: string) => string;
  readonly deps?: Partial<Omit<BackfillDeps, 'log'>>;
}

export async function main(
  argv: readonly string[] = process.argv.slice(2),
  io: BackfillIo = {
    out: (l) => process.stdout.write(`${l}\n`),
    err: (l) => process.stderr.write(`${l}\n`),
  },
): Promise<number> {
  try {
    const options = parseBackfillArgs(argv, io.readFile);
    if (options === 'help') {
      io.out(BACKFILL_USAGE);
      return 0;
    }
    const result = await runBackfill(options, {
      ecrClient: io.deps?.ecrClient ?? ((r) => new ECRClient({ region: r })),
      sleep: io.deps?.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms))),
      now: io.deps?.now ?? Date.now,
      callTimeoutMs: io.deps?.callTimeoutMs,
      log: io.out,
    });
    (result.verdict === 'OK' ? io.out : io.err)(
      `image-backfill: ${result.verdict} ${result.reason}`,
    );
    return result.exitCode;
  } catch (e) {
    const message = (e instanceof Error ? e.message : String(e)).split('\n')[0];
    io.err(`image-backfill: ERROR ${message}${e instanceof UsageError ? ' (see --help)' : ''}`);
    return 2;
  }
}

if (require.main === module) {
  void main().then((code) => {
    process.exitCode = code;
  });
}
