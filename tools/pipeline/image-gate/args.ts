import * as fs from 'node:fs';
import { parseArgs } from 'node:util';
import { FAIL_ON_SEVERITIES, type FailOn } from './findings';
import {
  DEFAULT_POLL_INTERVAL_SECONDS,
  DEFAULT_TIMEOUT_SECONDS,
  type GateOptions,
  type ScanType,
} from './gate';
import { DEFAULT_FAIL_ON, DEFAULT_SCAN_TYPE, KNOWN_REGIONS, nearestRegion } from './regions';

/** A command line the gate cannot run with; the message is one line a person can act on. */
export class ArgsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ArgsError';
  }
}

export type ParsedArgs =
  { readonly kind: 'help' } | { readonly kind: 'run'; readonly options: GateOptions };

export const USAGE = `Usage: image-gate --repository <name> (--tag <tag> | --tag-file <image.json>) --regions <r1,r2,...>
                  [--fail-on CRITICAL|HIGH|MEDIUM|LOW] [--timeout <seconds>]
                  [--poll-interval <seconds>] [--registry-id <account>] [--scan-region <region>]
                  [--scan-type ENHANCED|BASIC]

Before a stage deploys: waits until <name>:<tag> has replicated to each region, waits for a scan
of its digest completed after the push (BASIC: starting one when a replica has none), and blocks
on findings at or above --fail-on, or of a severity it does not know (UNTRIAGED).

Options:
  --repository <name>        ECR repository name (may be left out when --tag-file names it)
  --tag <tag>                image tag
  --tag-file <path>          JSON file with {"tag": "..."}, such as the pipeline's image.json
  --regions <r1,r2,...>      regions to check, in parallel; the verdict is the worst
  --fail-on <severity>       lowest severity that blocks: ${FAIL_ON_SEVERITIES.join(', ')} (default ${DEFAULT_FAIL_ON})
  --timeout <seconds>        the whole run, every region and call included (default ${DEFAULT_TIMEOUT_SECONDS})
  --poll-interval <seconds>  time between checks (default ${DEFAULT_POLL_INTERVAL_SECONDS})
  --registry-id <account>    account of the registry (default: the caller's)
  --scan-region <region>     read the scan of the digest in this region (where the image was pushed
                             and enhanced scanning runs) instead of in each checked region
  --scan-type <type>         the registry's scanning, as image.scanning: ENHANCED (Amazon Inspector;
                             never starts a scan) or BASIC (default ${DEFAULT_SCAN_TYPE})
  -h, --help                 print this text

Exit codes: 0 PASS (may deploy)
            1 BLOCKED (findings at or above --fail-on, an unrecognised severity, an expired scan)
            2 ERROR (failed or unsupported scan, failed replication, AWS error, bad arguments)
            3 TIMEOUT (no verdict within --timeout: image not replicated or scan not done in time)
Runbook: docs/runbooks/image-gate-blocked.md`;

const OPTIONS = {
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
  help: { type: 'boolean', short: 'h' },
} as const;
type OptionName = keyof typeof OPTIONS;

// The same rule as image.repositoryName in lib/config/schema.ts, and ECR's own.
const REPOSITORY_NAME = /^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$/;
// Docker's tag grammar, which ECR enforces.
const IMAGE_TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const ACCOUNT_ID = /^\d{12}$/;
const MAX_TIMEOUT_SECONDS = 86400;
const MAX_POLL_INTERVAL_SECONDS = 300;
const SCAN_TYPES: readonly ScanType[] = ['ENHANCED', 'BASIC'];

function isOptionName(name: string): name is OptionName {
  return Object.prototype.hasOwnProperty.call(OPTIONS, name);
}

/**
 * Splits argv with node:util's tokenizer and checks each token here, so every mistake gets a
 * message of ours: unknown flag, missing value, a flag given twice, stray arguments.
 */
function readFlags(argv: readonly string[]): Partial<Record<OptionName, string | true>> {
  const { tokens } = parseArgs({
    args: [...argv],
    options: OPTIONS,
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const flags: Partial<Record<OptionName, string | true>> = {};
  for (const token of tokens) {
    if (token.kind === 'positional')
      throw new ArgsError(`unexpected argument ${JSON.stringify(token.value)}`);
    if (token.kind === 'option-terminator') throw new ArgsError('unexpected "--"');
    if (!isOptionName(token.name)) throw new ArgsError(`unknown option ${token.rawName}`);
    const spec = OPTIONS[token.name];
    if (flags[token.name] !== undefined) throw new ArgsError(`--${token.name} is given twice`);
    if (spec.type === 'boolean') {
      if (token.value !== undefined) throw new ArgsError(`--${token.name} takes no value`);
      flags[token.name] = true;
      continue;
    }
    // Without strict mode the tokenizer takes the next flag as the value (`--tag --regions x`).
    const value = token.value;
    if (value === undefined || value === '' || (!token.inlineValue && value.startsWith('-'))) {
      throw new ArgsError(`--${token.name} needs a value`);
    }
    flags[token.name] = value;
  }
  return flags;
}

function stringFlag(
  flags: Partial<Record<OptionName, string | true>>,
  name: OptionName,
): string | undefined {
  const value = flags[name];
  return typeof value === 'string' ? value : undefined;
}

/** The nearest real region by edit distance, for "did you mean". */

function parseRegions(value: string): string[] {
  const regions = value.split(',').map((r) => r.trim());
  if (regions.some((r) => r === ''))
    throw new ArgsError(
      `--regions: empty entry in ${JSON.stringify(value)}; give a comma-separated list such as eu-west-1,us-east-1`,
    );
  for (const region of regions) {
    if (!KNOWN_REGIONS.includes(region)) {
      const hint = nearestRegion(region);
      throw new ArgsError(
        `--regions: ${JSON.stringify(region)} is not an AWS region${hint ? ` (did you mean ${hint}?)` : ''}`,
      );
    }
  }
  return [...new Set(regions)];
}

function parseSeconds(
  name: string,
  value: string | undefined,
  fallback: number,
  min: number,
  max: number,
): number {
  if (value === undefined) return fallback;
  const seconds = /^\d+$/.test(value) ? Number(value) : NaN;
  if (!(seconds >= min && seconds <= max))
    throw new ArgsError(
      `--${name}: ${JSON.stringify(value)} must be a whole number of seconds from ${min} to ${max}`,
    );
  return seconds;
}

function parseFailOn(value: string | undefined): FailOn {
  if (value === undefined) return DEFAULT_FAIL_ON;
  const failOn = FAIL_ON_SEVERITIES.find((s) => s === value.toUpperCase());
  if (!failOn)
    throw new ArgsError(
      `--fail-on: ${JSON.stringify(value)} is not one of ${FAIL_ON_SEVERITIES.join(', ')}`,
    );
  return failOn;
}

interface TagFile {
  readonly tag: string;
  readonly repositoryName?: string;
}

function readTagFile(path: string, readFile: (path: string) => string): TagFile {
  let text: string;
  try {
    text = readFile(path);
  } catch (e) {
    throw new ArgsError(
      `--tag-file ${path}: cannot read it (${e instanceof Error ? e.message : String(e)})`,
    );
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new ArgsError(
      `--tag-file ${path}: not valid JSON (${e instanceof Error ? e.message : String(e)})`,
    );
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data))
    throw new ArgsError(`--tag-file ${path}: expected a JSON object such as {"tag": "..."}`);
  const { tag, repositoryName } = data as Record<string, unknown>;
  if (typeof tag !== 'string') throw new ArgsError(`--tag-file ${path}: no string "tag" field`);
  if (repositoryName !== undefined && typeof repositoryName !== 'string')
    throw new ArgsError(`--tag-file ${path}: "repositoryName" must be a string`);
  return { tag, repositoryName };
}

/** Parses the command line (without `node` and the script). Throws ArgsError. */
export function parseGateArgs(
  argv: readonly string[],
  readFile: (path: string) => string = (p) => fs.readFileSync(p, 'utf8'),
): ParsedArgs {
  const flags = readFlags(argv);
  if (flags.help) return { kind: 'help' };

  const tagFlag = stringFlag(flags, 'tag');
  const tagFilePath = stringFlag(flags, 'tag-file');
  if (tagFlag !== undefined && tagFilePath !== undefined)
    throw new ArgsError('give either --tag or --tag-file, not both');
  if (tagFlag === undefined && tagFilePath === undefined)
    throw new ArgsError('--tag or --tag-file is required');
  const tagFile = tagFilePath !== undefined ? readTagFile(tagFilePath, readFile) : undefined;
  const tag = tagFlag ?? tagFile?.tag ?? '';
  const tagSource = tagFlag !== undefined ? '--tag' : `"tag" in ${tagFilePath}`;
  if (!IMAGE_TAG.test(tag))
    throw new ArgsError(
      `${tagSource}: ${JSON.stringify(tag)} is not a valid image tag (letters, digits, _ . -, at most 128, not starting with . or -)`,
    );

  const repositoryFlag = stringFlag(flags, 'repository');
  if (
    repositoryFlag !== undefined &&
    tagFile?.repositoryName !== undefined &&
    repositoryFlag !== tagFile.repositoryName
  ) {
    throw new ArgsError(
      `--repository ${repositoryFlag} does not match "repositoryName": ${JSON.stringify(tagFile.repositoryName)} in ${tagFilePath}`,
    );
  }
  const repository = repositoryFlag ?? tagFile?.repositoryName;
  if (repository === undefined) throw new ArgsError('--repository is required');
  if (!REPOSITORY_NAME.test(repository) || repository.length < 2 || repository.length > 256) {
    throw new ArgsError(
      `--repository: ${JSON.stringify(repository)} is not an ECR repository name (lowercase, such as "orders-api")`,
    );
  }

  const regionsFlag = stringFlag(flags, 'regions');
  if (regionsFlag === undefined)
    throw new ArgsError('--regions is required (comma-separated, such as eu-west-1,us-east-1)');
  const regions = parseRegions(regionsFlag);

  const registryId = stringFlag(flags, 'registry-id');
  if (registryId !== undefined && !ACCOUNT_ID.test(registryId))
    throw new ArgsError(
      `--registry-id: ${JSON.stringify(registryId)} must be a 12-digit AWS account id`,
    );

  const scanRegionFlag = stringFlag(flags, 'scan-region');
  if (scanRegionFlag !== undefined && !KNOWN_REGIONS.includes(scanRegionFlag)) {
    const hint = nearestRegion(scanRegionFlag);
    throw new ArgsError(
      `--scan-region: ${JSON.stringify(scanRegionFlag)} is not an AWS region${hint ? ` (did you mean ${hint}?)` : ''}; give one region`,
    );
  }
  const scanRegion = scanRegionFlag;

  const scanTypeFlag = stringFlag(flags, 'scan-type');
  const scanType =
    scanTypeFlag === undefined
      ? DEFAULT_SCAN_TYPE
      : SCAN_TYPES.find((t) => t === scanTypeFlag.toUpperCase());
  if (scanType === undefined)
    throw new ArgsError(
      `--scan-type: ${JSON.stringify(scanTypeFlag)} is not one of ${SCAN_TYPES.join(', ')}`,
    );

  return {
    kind: 'run',
    options: {
      repository,
      tag,
      regions,
      failOn: parseFailOn(stringFlag(flags, 'fail-on')),
      timeoutSeconds: parseSeconds(
        'timeout',
        stringFlag(flags, 'timeout'),
        DEFAULT_TIMEOUT_SECONDS,
        0,
        MAX_TIMEOUT_SECONDS,
      ),
      pollIntervalSeconds: parseSeconds(
        'poll-interval',
        stringFlag(flags, 'poll-interval'),
        DEFAULT_POLL_INTERVAL_SECONDS,
        1,
        MAX_POLL_INTERVAL_SECONDS,
      ),
      registryId,
      scanRegion,
      scanType,
    },
  };
}
