import { parseFlags } from '../../common/args';
import { helpText } from '../../common/command';
import { UsageError } from '../../common/errors';
import { readBoundedFile } from '../../common/files';
import { IMAGE_TAG, IMAGE_TAG_RULE, MAX_TAG_FILE_BYTES } from '../../common/image-tag';
import { FAIL_ON_SEVERITIES, type FailOn } from './findings';
import {
  DEFAULT_POLL_INTERVAL_SECONDS,
  DEFAULT_TIMEOUT_SECONDS,
  type GateOptions,
  type ScanType,
} from './gate';
import { DEFAULT_FAIL_ON, DEFAULT_SCAN_TYPE, KNOWN_REGIONS, nearestRegion } from './regions';

const USAGE_LINE =
  'Usage: npx delivery image-gate --repository <name> (--tag <tag> | --tag-file <image.json>) --regions <r1,r2,...> [options]';

export const USAGE = helpText({
  usage: `${USAGE_LINE}
       (in the pipeline: node image-gate.cjs ..., bundled by npm run bundle:tools)`,
  about: `Before a stage deploys: waits until <name>:<tag> has replicated to each region, waits for a scan
of its digest completed after the push (BASIC: starting one when a replica has none), and blocks
on findings at or above --fail-on, or of a severity it does not know (UNTRIAGED).`,
  options: [
    ['--repository <name>', 'ECR repository name (may be left out when --tag-file names it)'],
    ['--tag <tag>', 'image tag'],
    ['--tag-file <path>', `JSON file with {"tag": "..."}, such as the pipeline's image.json`],
    ['--regions <r1,r2,...>', 'regions to check, in parallel; the verdict is the worst'],
    [
      '--fail-on <severity>',
      `lowest severity that blocks: ${FAIL_ON_SEVERITIES.join(', ')} (default ${DEFAULT_FAIL_ON})`,
    ],
    [
      '--timeout <seconds>',
      `the whole run, every region and call included (default ${DEFAULT_TIMEOUT_SECONDS})`,
    ],
    ['--poll-interval <seconds>', `time between checks (default ${DEFAULT_POLL_INTERVAL_SECONDS})`],
    ['--registry-id <account>', "account of the registry (default: the caller's)"],
    [
      '--scan-region <region>',
      'read the scan of the digest in this region (where it was pushed) instead of in each region',
    ],
    [
      '--scan-type <type>',
      `ENHANCED (Amazon Inspector; never starts a scan) or BASIC (default ${DEFAULT_SCAN_TYPE})`,
    ],
  ],
  json: true,
  verdict:
    'BLOCKED (findings at or above --fail-on, an unrecognised severity, an expired scan); 3: no verdict (failed or unsupported scan, failed replication, an AWS error)',
  runbook: 'docs/runbooks/image-gate-blocked.md',
});

/** The command line, checked; the tag may still have to be read from --tag-file (gateOptions). */
export interface GateRequest {
  readonly options: Omit<GateOptions, 'repository' | 'tag'>;
  readonly repository?: string;
  readonly tag?: string;
  readonly tagFile?: string;
  readonly json: boolean;
}

export type ParsedArgs = { readonly kind: 'help' } | ({ readonly kind: 'run' } & GateRequest);

// The same rule as image.repositoryName in lib/config/schema.ts, and ECR's own.
const REPOSITORY_NAME = /^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$/;
const ACCOUNT_ID = /^\d{12}$/;
const MAX_TIMEOUT_SECONDS = 86400;
const MAX_POLL_INTERVAL_SECONDS = 300;
const SCAN_TYPES: readonly ScanType[] = ['ENHANCED', 'BASIC'];
/** The most reading --tag-file may take (and never more than --timeout). */
const TAG_FILE_TIMEOUT_MS = 20000;

function bad(message: string): never {
  throw new UsageError(message);
}

function region(flag: string, value: string, hintOne = ''): string {
  if (KNOWN_REGIONS.includes(value)) return value;
  const hint = nearestRegion(value);
  return bad(
    `${flag}: ${JSON.stringify(value)} is not an AWS region${hint ? ` (did you mean ${hint}?)` : ''}${hintOne}`,
  );
}

function parseRegions(value: string): string[] {
  const regions = value.split(',').map((r) => r.trim());
  if (regions.some((r) => r === ''))
    bad(
      `--regions: empty entry in ${JSON.stringify(value)}; give a comma-separated list such as eu-west-1,us-east-1`,
    );
  return [...new Set(regions.map((r) => region('--regions', r)))];
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
    bad(
      `${flag}: ${JSON.stringify(value)} must be a whole number of seconds from ${min} to ${max}`,
    );
  return n;
}

function oneOf<T extends string>(
  flag: string,
  value: string | undefined,
  allowed: readonly T[],
  fallback: T,
): T {
  if (value === undefined) return fallback;
  const found = allowed.find((a) => a === value.toUpperCase());
  return found ?? bad(`${flag}: ${JSON.stringify(value)} is not one of ${allowed.join(', ')}`);
}

/** Parses the command line (without `node` and the script) with the shared parser. Throws UsageError. */
export function parseGateArgs(argv: readonly string[]): ParsedArgs {
  const flags = parseFlags(
    argv,
    {
      repository: { type: 'string' },
      tag: { type: 'string' },
      'tag-file': { type: 'string' },
      regions: { type: 'string' },
      'fail-on': { type: 'string' },
      timeout: { type: 'string' },
      'poll-interval': { type: 'string' },
      'registry-id': { type: 'string' },
      'scan-region': { type: 'string' },
      'scan-type': { type: 'string' },
      json: { type: 'boolean' },
    },
    USAGE_LINE,
  );
  if (flags.help) return { kind: 'help' };
  if (flags.tag !== undefined && flags['tag-file'] !== undefined)
    bad('give either --tag or --tag-file, not both');
  if (flags.tag === undefined && flags['tag-file'] === undefined)
    bad('--tag or --tag-file is required');
  if (flags.regions === undefined)
    bad('--regions is required (comma-separated, such as eu-west-1,us-east-1)');
  const registryId = flags['registry-id'];
  if (registryId !== undefined && !ACCOUNT_ID.test(registryId))
    bad(`--registry-id: ${JSON.stringify(registryId)} must be a 12-digit AWS account id`);
  const scanRegion = flags['scan-region'];
  if (scanRegion !== undefined) region('--scan-region', scanRegion, '; give one region');
  return {
    kind: 'run',
    repository: flags.repository,
    tag: flags.tag,
    tagFile: flags['tag-file'],
    json: flags.json === true,
    options: {
      regions: parseRegions(flags.regions),
      failOn: oneOf<FailOn>('--fail-on', flags['fail-on'], FAIL_ON_SEVERITIES, DEFAULT_FAIL_ON),
      timeoutSeconds: seconds(
        '--timeout',
        flags.timeout,
        DEFAULT_TIMEOUT_SECONDS,
        0,
        MAX_TIMEOUT_SECONDS,
      ),
      pollIntervalSeconds: seconds(
        '--poll-interval',
        flags['poll-interval'],
        DEFAULT_POLL_INTERVAL_SECONDS,
        1,
        MAX_POLL_INTERVAL_SECONDS,
      ),
      registryId,
      scanRegion,
      scanType: oneOf<ScanType>('--scan-type', flags['scan-type'], SCAN_TYPES, DEFAULT_SCAN_TYPE),
    },
  };
}

/** Reads --tag-file: a regular file of at most MAX_TAG_FILE_BYTES, within its time limit (tools/common/files.ts). */
export type ReadTagFile = (path: string) => Promise<string>;

export function boundedTagFileReader(timeoutSeconds: number): ReadTagFile {
  return (path) =>
    readBoundedFile(path, {
      what: `--tag-file ${path}`,
      maxBytes: MAX_TAG_FILE_BYTES,
      timeoutMs: Math.max(1000, Math.min(TAG_FILE_TIMEOUT_MS, timeoutSeconds * 1000)),
    });
}

/** The gate's options: the repository and tag from the flags or --tag-file, checked. Throws UsageError. */
export async function gateOptions(
  request: GateRequest,
  readTagFile: ReadTagFile = boundedTagFileReader(request.options.timeoutSeconds),
): Promise<GateOptions> {
  let { tag, repository } = request;
  const path = request.tagFile;
  if (path !== undefined) {
    const text = await readTagFile(path);
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch {
      bad(`--tag-file ${path}: not valid JSON`);
    }
    if (typeof data !== 'object' || data === null || Array.isArray(data))
      bad(`--tag-file ${path}: expected a JSON object such as {"tag": "..."}`);
    const file = data as Record<string, unknown>;
    if (typeof file.tag !== 'string') bad(`--tag-file ${path}: no string "tag" field`);
    if (file.repositoryName !== undefined && typeof file.repositoryName !== 'string')
      bad(`--tag-file ${path}: "repositoryName" must be a string`);
    const named = file.repositoryName;
    if (repository !== undefined && named !== undefined && repository !== named)
      bad(
        `--repository ${repository} does not match "repositoryName": ${JSON.stringify(named)} in ${path}`,
      );
    tag = file.tag;
    repository = repository ?? named;
  }
  const tagSource = request.tag !== undefined ? '--tag' : `"tag" in ${path}`;
  if (tag === undefined || !IMAGE_TAG.test(tag))
    bad(`${tagSource}: ${JSON.stringify(tag ?? '')} is not a valid image tag (${IMAGE_TAG_RULE})`);
  if (repository === undefined) bad('--repository is required');
  if (!REPOSITORY_NAME.test(repository) || repository.length < 2 || repository.length > 256)
    bad(
      `--repository: ${JSON.stringify(repository)} is not an ECR repository name (lowercase, such as "orders-api")`,
    );
  return { repository, tag, ...request.options };
}
