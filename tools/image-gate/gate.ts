import {
  DescribeImageScanFindingsCommand,
  type DescribeImageScanFindingsCommandOutput,
  DescribeImagesCommand,
  type ECRClient,
  StartImageScanCommand,
} from '@aws-sdk/client-ecr';
import {
  type FailOn,
  type Finding,
  type SeverityCounts,
  SEVERITIES,
  countBySeverity,
  findingsOfPage,
  formatCounts,
  formatFindingsTable,
  isAtOrAbove,
  sortFindings,
} from './findings';

/**
 * The image gate: before a stage deploys, wait until the image has replicated to the stage's
 * region, wait for the scan of that digest, and block on findings at or above a threshold.
 * Everything outside (clients, clock, output) is passed in, so tests run it instantly.
 */

export interface GateOptions {
  /** ECR repository name, the same in every region (replication keeps the name). */
  readonly repository: string;
  readonly tag: string;
  readonly regions: readonly string[];
  /** Lowest severity that blocks. */
  readonly failOn: FailOn;
  /** How long each region may take, replication and scan together. */
  readonly timeoutSeconds: number;
  readonly pollIntervalSeconds: number;
  /** Account of the registry; the caller's own when omitted. */
  readonly registryId?: string;
  /**
   * Region whose scan of the digest is read; each checked region's own when omitted. The pipeline
   * reads the scan where the image was pushed (enhanced scanning runs there; a replica has the same
   * digest, so the same findings), and checks replication in the stage's region.
   */
  readonly scanRegion?: string;
}

export interface GateDeps {
  readonly ecrClient: (region: string) => ECRClient;
  readonly sleep: (ms: number) => Promise<void>;
  /** Milliseconds, like Date.now. */
  readonly now: () => number;
  /** One line of progress output. */
  readonly log: (line: string) => void;
  /** Longest wait for one ECR call: the SDK sets no limit of its own. @default 60000 */
  readonly callTimeoutMs?: number;
}

export type Verdict = 'PASS' | 'BLOCKED' | 'ERROR';
export type ExitCode = 0 | 1 | 2;

const EXIT_CODES: Record<Verdict, ExitCode> = { PASS: 0, BLOCKED: 1, ERROR: 2 };

export interface RegionResult {
  readonly region: string;
  readonly verdict: Verdict;
  readonly exitCode: ExitCode;
  /** One line, naming the region. */
  readonly reason: string;
  /** The digest the tag resolved to in this region, once found. */
  readonly digest?: string;
  /** Severity counts of every finding, once the scan completed. */
  readonly counts?: SeverityCounts;
  /** Findings at or above the threshold. */
  readonly blocking: readonly Finding[];
}

export interface GateResult {
  readonly verdict: Verdict;
  readonly exitCode: ExitCode;
  /** One line: why the image may or may not be deployed. */
  readonly reason: string;
  readonly regions: readonly RegionResult[];
  /** Findings at or above the threshold, with the region they were reported in. */
  readonly findings: readonly (Finding & { readonly region: string })[];
}

export const DEFAULT_POLL_INTERVAL_SECONDS = 5;
export const DEFAULT_TIMEOUT_SECONDS = 900;
const DEFAULT_CALL_TIMEOUT_MS = 60_000;
/** DescribeImageScanFindings' largest page. */
const PAGE_SIZE = 1000;
/** Scan statuses that mean "findings are final" (ACTIVE: Inspector's continuous scanning). */
const DONE = new Set(['COMPLETE', 'ACTIVE']);
const WAITING = new Set(['IN_PROGRESS', 'PENDING']);

function errorName(e: unknown): string | undefined {
  return e instanceof Error ? e.name : undefined;
}

/** Collapses line breaks: every message the gate prints is one line. */
export function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/** `Name: message`, one line, never a stack trace. */
export function describeError(e: unknown): string {
  // The only aborts are ours: a call that outlived callTimeoutMs.
  if (errorName(e) === 'AbortError') return 'no answer from ECR in time (the call was abandoned)';
  return oneLine(e instanceof Error ? (e.name && e.name !== 'Error' ? `${e.name}: ${e.message}` : e.message) : String(e));
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

async function checkRegion(region: string, options: GateOptions, deps: GateDeps, start: number): Promise<RegionResult> {
  const client = deps.ecrClient(region);
  const scanRegion = options.scanRegion ?? region;
  const scanClient = scanRegion === region ? client : deps.ecrClient(scanRegion);
  const { repository: repositoryName, tag, registryId } = options;
  const ref = `${repositoryName}:${tag}`;
  const deadline = start + options.timeoutSeconds * 1000;
  const elapsed = (): number => Math.floor((deps.now() - start) / 1000);
  const say = (line: string): void => deps.log(`[${region}] ${line}`);
  const error = (reason: string, digest?: string): RegionResult => ({ region, verdict: 'ERROR', exitCode: 2, reason, digest, blocking: [] });
  /** Abandons a hung call, so that --timeout bounds the gate (a new signal per call). */
  const call = (): { abortSignal: AbortSignal } => ({ abortSignal: AbortSignal.timeout(deps.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS) });
  /** Sleeps one poll interval, never past the deadline. */
  const pause = (): Promise<void> => deps.sleep(Math.max(0, Math.min(deadline - deps.now(), options.pollIntervalSeconds * 1000)));

  // 1. Replication. The replica repository itself appears with the first replicated image.
  let digest: string | undefined;
  for (;;) {
    try {
      const out = await client.send(new DescribeImagesCommand({ repositoryName, registryId, imageIds: [{ imageTag: tag }] }), call());
      digest = out.imageDetails?.[0]?.imageDigest;
    } catch (e) {
      const name = errorName(e);
      if (name !== 'ImageNotFoundException' && name !== 'RepositoryNotFoundException') {
        return error(`DescribeImages for ${ref} in ${region} failed: ${describeError(e)}`);
      }
    }
    if (digest) break;
    if (deadline - deps.now() <= 0) return error(`image ${ref} not found in ${region} after ${elapsed()}s`);
    say(`waiting for replication (${elapsed()}s)`);
    await pause();
  }
  say(`found ${ref} as ${digest} (${elapsed()}s)`);

  // 2. The scan of that digest. Basic scan-on-push does not cover replicas, so start one if none.
  if (scanRegion !== region) say(`reading the scan of ${digest} in ${scanRegion} (same digest)`);
  let scanStarted = false;
  let complete: DescribeImageScanFindingsCommandOutput | undefined;
  while (!complete) {
    let status: string | undefined; // undefined: no scan yet
    let description: string | undefined;
    try {
      const out = await scanClient.send(
        new DescribeImageScanFindingsCommand({ repositoryName, registryId, imageId: { imageDigest: digest }, maxResults: PAGE_SIZE }),
        call(),
      );
      status = out.imageScanStatus?.status ?? 'UNKNOWN';
      description = out.imageScanStatus?.description;
      if (DONE.has(status)) {
        complete = out;
        break;
      }
    } catch (e) {
      if (errorName(e) !== 'ScanNotFoundException') {
        return error(`DescribeImageScanFindings for ${ref} in ${scanRegion} failed: ${describeError(e)}`, digest);
      }
      if (!scanStarted) {
        scanStarted = true;
        say(`no scan of ${digest} yet: starting one (StartImageScan)`);
        try {
          await scanClient.send(new StartImageScanCommand({ repositoryName, registryId, imageId: { imageDigest: digest } }), call());
        } catch (startError) {
          // LimitExceeded: a scan of this image already ran today; its result will show up.
          if (errorName(startError) !== 'LimitExceededException') {
            return error(`StartImageScan for ${ref} in ${scanRegion} failed: ${describeError(startError)}`, digest);
          }
          say(`StartImageScan: ${describeError(startError)}; waiting for the existing scan`);
        }
      }
    }
    if (status !== undefined && !WAITING.has(status)) {
      return error(`scan of ${ref} (${digest}) in ${scanRegion} ended ${status}${description ? `: ${description}` : ''}`, digest);
    }
    if (deadline - deps.now() <= 0) {
      const state = status === undefined ? 'has not started' : `is still ${status}`;
      return error(`scan of ${ref} (${digest}) in ${scanRegion} ${state} after ${elapsed()}s`, digest);
    }
    say(status === undefined ? `waiting for the scan to start (${elapsed()}s)` : `scan ${status} (${elapsed()}s)`);
    await pause();
  }

  // 3. Every page of findings.
  const findings: Finding[] = [];
  let closed = 0;
  let page: DescribeImageScanFindingsCommandOutput = complete;
  for (;;) {
    const found = findingsOfPage(page.imageScanFindings);
    findings.push(...found.findings);
    closed += found.closed;
    if (!page.nextToken) break;
    try {
      page = await scanClient.send(
        new DescribeImageScanFindingsCommand({ repositoryName, registryId, imageId: { imageDigest: digest }, maxResults: PAGE_SIZE, nextToken: page.nextToken }),
        call(),
      );
    } catch (e) {
      return error(`DescribeImageScanFindings (next page) for ${ref} in ${region} failed: ${describeError(e)}`, digest);
    }
  }

  const counts = countBySeverity(findings);
  say(`scan ${complete.imageScanStatus?.status} (${elapsed()}s): ${formatCounts(counts)}`);
  if (closed > 0) say(`not counted: ${plural(closed, 'CLOSED Inspector finding')} (no longer present in the image)`);
  const blocking = sortFindings(findings.filter((f) => isAtOrAbove(f.severity, options.failOn)));
  if (blocking.length === 0) {
    return { region, verdict: 'PASS', exitCode: 0, reason: `no findings at or above ${options.failOn} in ${region}`, digest, counts, blocking };
  }
  say(`${plural(blocking.length, 'finding')} at or above ${options.failOn}:`);
  for (const line of formatFindingsTable(blocking)) say(`  ${line}`);
  const names = [...new Set(blocking.map((f) => f.name))];
  const shown = names.slice(0, 5).join(', ') + (names.length > 5 ? `, and ${names.length - 5} more` : '');
  return {
    region,
    verdict: 'BLOCKED',
    exitCode: 1,
    reason: `${plural(blocking.length, 'finding')} at or above ${options.failOn} in ${region} (${shown})`,
    digest,
    counts,
    blocking,
  };
}

function nonZeroCounts(counts: SeverityCounts | undefined): string {
  const present = SEVERITIES.filter((s) => (counts?.[s] ?? 0) > 0).map((s) => `${s} ${counts?.[s]}`);
  return present.length > 0 ? present.join(', ') : 'no findings';
}

/** Checks every region in parallel; the verdict is the worst of them. */
export async function runGate(options: GateOptions, deps: GateDeps): Promise<GateResult> {
  const start = deps.now();
  const ref = `${options.repository}:${options.tag}`;
  deps.log(`image-gate: checking ${ref} in ${options.regions.join(', ')} (fail on ${options.failOn} and above, timeout ${options.timeoutSeconds}s)`);
  const regions = await Promise.all(
    options.regions.map((region) =>
      // checkRegion turns AWS errors into results; this catch is for anything else, so one region's
      // surprise still reports the others.
      checkRegion(region, options, deps, start).catch(
        (e: unknown): RegionResult => ({ region, verdict: 'ERROR', exitCode: 2, reason: `${region}: ${describeError(e)}`, blocking: [] }),
      ),
    ),
  );
  const exitCode = Math.max(...regions.map((r) => r.exitCode)) as ExitCode;
  const verdict = (Object.keys(EXIT_CODES) as Verdict[]).find((v) => EXIT_CODES[v] === exitCode) ?? 'ERROR';
  const findings = regions.flatMap((r) => r.blocking.map((f) => ({ ...f, region: r.region })));

  let reason: string;
  if (verdict === 'PASS') {
    const digests = [...new Set(regions.map((r) => r.digest))].join(', ');
    const counts = regions.map((r) => `${r.region}: ${nonZeroCounts(r.counts)}`).join('; ');
    reason = `${ref} (${digests}): no findings at or above ${options.failOn} in ${options.regions.join(', ')} (${counts})`;
  } else {
    const worst = regions.filter((r) => r.verdict === verdict).map((r) => r.reason);
    const others = regions.filter((r) => r.verdict !== verdict && r.verdict !== 'PASS').map((r) => `${r.verdict} ${r.reason}`);
    reason = `${verdict === 'BLOCKED' ? `${ref}: ` : ''}${worst.join('; ')}${others.length > 0 ? `; also ${others.join('; ')}` : ''}`;
  }
  return { verdict, exitCode, reason, regions, findings };
}
