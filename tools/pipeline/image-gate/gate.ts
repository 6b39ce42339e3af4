import { EXIT_COULD_NOT_CHECK, EXIT_FAILED, EXIT_OK, EXIT_TIMEOUT } from '../../common/errors';
import {
  DescribeImageReplicationStatusCommand,
  DescribeImageScanFindingsCommand,
  type DescribeImageScanFindingsCommandOutput,
  DescribeImagesCommand,
  type ECRClient,
  StartImageScanCommand,
  paginateDescribeImageScanFindings,
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
  isBlocking,
  isRecognised,
  sortFindings,
} from './findings';

/**
 * The image gate: before a stage deploys, wait until the image has replicated to the stage's
 * region, wait for a scan of that digest that is newer than its push, and block on findings at or
 * above a threshold. Everything outside (clients, clock, output) is passed in, so tests run it
 * instantly. `timeoutSeconds` bounds the whole run: every wait, every call and every page.
 */

/** How the registry scans: ENHANCED is Amazon Inspector (continuous), BASIC is ECR's scan on push. */
export type ScanType = 'ENHANCED' | 'BASIC';

export interface GateOptions {
  /** ECR repository name, the same in every region (replication keeps the name). */
  readonly repository: string;
  readonly tag: string;
  readonly regions: readonly string[];
  /** Lowest severity that blocks. */
  readonly failOn: FailOn;
  /** The whole run, every region together (they are checked in parallel). */
  readonly timeoutSeconds: number;
  readonly pollIntervalSeconds: number;
  /**
   * ENHANCED: never StartImageScan (a basic-scan API) and require a scan completed after the push.
   * BASIC: start a scan once when a replica has none.
   */
  readonly scanType: ScanType;
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

export type Verdict = 'PASS' | 'BLOCKED' | 'ERROR' | 'TIMEOUT';
export type ExitCode = 0 | 1 | 3 | 124;

/**
 * The verdicts' exit codes, from the one table every command shares (tools/common/errors.ts):
 * ERROR is "could not check", TIMEOUT "timed out". When regions disagree the highest code wins
 * (TIMEOUT over ERROR over BLOCKED over PASS).
 */
export const EXIT_CODES: Record<Verdict, ExitCode> = {
  PASS: EXIT_OK,
  BLOCKED: EXIT_FAILED,
  ERROR: EXIT_COULD_NOT_CHECK,
  TIMEOUT: EXIT_TIMEOUT,
};

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
  /** Findings that block: at or above the threshold, or of a severity the gate does not know. */
  readonly blocking: readonly Finding[];
}

export interface GateResult {
  readonly verdict: Verdict;
  readonly exitCode: ExitCode;
  /** One line: why the image may or may not be deployed. */
  readonly reason: string;
  readonly regions: readonly RegionResult[];
  /** Blocking findings, with the region they were reported in. */
  readonly findings: readonly (Finding & { readonly region: string })[];
}

export const DEFAULT_POLL_INTERVAL_SECONDS = 5;
export const DEFAULT_TIMEOUT_SECONDS = 900;
const DEFAULT_CALL_TIMEOUT_MS = 60_000;
/** DescribeImageScanFindings' largest page. */
const PAGE_SIZE = 1000;
/**
 * More pages than this (100,000 findings) is not a scan result but a token that never ends:
 * stop rather than page until the timeout.
 */
export const MAX_FINDINGS_PAGES = 100;

/**
 * What the gate does with each scan status ECR documents
 * (https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_ImageScanStatus.html: IN_PROGRESS,
 * COMPLETE, FAILED, UNSUPPORTED_IMAGE, ACTIVE, PENDING, SCAN_ELIGIBILITY_EXPIRED,
 * FINDINGS_UNAVAILABLE, LIMIT_EXCEEDED, IMAGE_ARCHIVED). A status not listed here is an ERROR
 * that names it.
 *  - result: findings are final (ACTIVE: Inspector's continuous scanning), if newer than the push;
 *  - wait: poll again;
 *  - expired: Inspector stopped monitoring the image (docs/decisions/0010-scan-expiry.md): BLOCKED;
 *  - error: no verdict is possible, waiting does not help: ERROR with the reason below.
 */
export const SCAN_STATUS_HANDLING = {
  COMPLETE: { action: 'result' },
  ACTIVE: { action: 'result' },
  PENDING: { action: 'wait' },
  IN_PROGRESS: { action: 'wait' },
  SCAN_ELIGIBILITY_EXPIRED: { action: 'expired' },
  UNSUPPORTED_IMAGE: {
    action: 'error',
    why: 'the scanner cannot read this image (its base is not a supported operating system: see docs/decisions/0009-inspector-scannable-base-image.md)',
  },
  FINDINGS_UNAVAILABLE: {
    action: 'error',
    why: 'the scanner has no findings to give for this image',
  },
  FAILED: { action: 'error', why: 'the scan failed' },
  LIMIT_EXCEEDED: {
    action: 'error',
    why: 'the scan quota was exceeded (basic scanning: one scan per image per 24 hours)',
  },
  IMAGE_ARCHIVED: {
    action: 'error',
    why: 'the image is archived in ECR; restore it before deploying it',
  },
} as const satisfies Record<
  string,
  { action: 'result' | 'wait' | 'expired' } | { action: 'error'; why: string }
>;

function errorName(e: unknown): string | undefined {
  return e instanceof Error ? e.name : undefined;
}

/** Collapses line breaks: every message the gate prints is one line. */
export function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

function isAbort(e: unknown): boolean {
  const name = errorName(e);
  return name === 'AbortError' || name === 'TimeoutError';
}

/** `Name: message`, one line, never a stack trace. */
export function describeError(e: unknown): string {
  // The only aborts are ours: a call that outlived callTimeoutMs or the gate's deadline.
  if (isAbort(e)) return 'no answer from ECR in time (the call was abandoned)';
  return oneLine(
    e instanceof Error
      ? e.name && e.name !== 'Error'
        ? `${e.name}: ${e.message}`
        : e.message
      : String(e),
  );
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function iso(date: Date | undefined): string {
  return date ? date.toISOString() : 'unknown';
}

function statusHandling(
  status: string,
): (typeof SCAN_STATUS_HANDLING)[keyof typeof SCAN_STATUS_HANDLING] | undefined {
  return Object.prototype.hasOwnProperty.call(SCAN_STATUS_HANDLING, status)
    ? SCAN_STATUS_HANDLING[status as keyof typeof SCAN_STATUS_HANDLING]
    : undefined;
}

async function checkRegion(
  region: string,
  options: GateOptions,
  deps: GateDeps,
  start: number,
): Promise<RegionResult> {
  const client = deps.ecrClient(region);
  const scanRegion = options.scanRegion ?? region;
  const scanClient = scanRegion === region ? client : deps.ecrClient(scanRegion);
  const { repository: repositoryName, tag, registryId } = options;
  const ref = `${repositoryName}:${tag}`;
  const deadline = start + options.timeoutSeconds * 1000;
  const remaining = (): number => deadline - deps.now();
  const elapsed = (): number => Math.floor((deps.now() - start) / 1000);
  const say = (line: string): void => deps.log(`[${region}] ${line}`);
  const result = (verdict: Verdict, reason: string, digest?: string): RegionResult => ({
    region,
    verdict,
    exitCode: EXIT_CODES[verdict],
    reason,
    digest,
    blocking: [],
  });
  const timedOut = (what: string, digest?: string): RegionResult =>
    result('TIMEOUT', `${what} after ${elapsed()}s (--timeout ${options.timeoutSeconds})`, digest);
  /** A call's signal: abandoned after callTimeoutMs, and never outliving the gate's deadline. */
  const call = (): { abortSignal: AbortSignal } => ({
    abortSignal: AbortSignal.any([
      AbortSignal.timeout(deps.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS),
      AbortSignal.timeout(Math.max(1, remaining())),
    ]),
  });
  /** A failed call: TIMEOUT when the deadline cut it short, otherwise ERROR. */
  const failed = (what: string, e: unknown, digest?: string): RegionResult =>
    isAbort(e) && remaining() <= 0
      ? timedOut(`${what}: no answer`, digest)
      : result('ERROR', `${what} failed: ${describeError(e)}`, digest);
  /** Sleeps one poll interval, never past the deadline. */
  const pause = (): Promise<void> =>
    deps.sleep(Math.max(0, Math.min(remaining(), options.pollIntervalSeconds * 1000)));

  // 1. Replication. The replica repository itself appears with the first replicated image.
  let digest: string | undefined;
  let pushedAt: Date | undefined;
  let replicationSeen: string | undefined;
  for (;;) {
    if (remaining() <= 0) return timedOut(`image ${ref} not found in ${region}`);
    try {
      const out = await client.send(
        new DescribeImagesCommand({ repositoryName, registryId, imageIds: [{ imageTag: tag }] }),
        call(),
      );
      digest = out.imageDetails?.[0]?.imageDigest;
      pushedAt = out.imageDetails?.[0]?.imagePushedAt;
    } catch (e) {
      const name = errorName(e);
      if (name !== 'ImageNotFoundException' && name !== 'RepositoryNotFoundException')
        return failed(`DescribeImages for ${ref} in ${region}`, e);
    }
    if (digest) break;
    if (scanRegion !== region) {
      // Where the image was pushed, ECR knows how its replication to this region went: a FAILED
      // replication shows here at once instead of as a timeout.
      const replication = await replicationTo(scanClient, scanRegion, region, options, call);
      if (replication.failed) return result('ERROR', replication.failed);
      if (replication.note !== replicationSeen) say((replicationSeen = replication.note));
    }
    if (remaining() <= 0) return timedOut(`image ${ref} not found in ${region}`);
    say(`waiting for replication (${elapsed()}s)`);
    await pause();
  }
  say(`found ${ref} as ${digest} (${elapsed()}s)`);

  // The push the scan must be newer than is the one where the image was pushed (a replica's
  // imagePushedAt is its replication time).
  if (scanRegion !== region) {
    say(`reading the scan of ${digest} in ${scanRegion} (same digest)`);
    if (options.scanType === 'ENHANCED') {
      try {
        const out = await scanClient.send(
          new DescribeImagesCommand({
            repositoryName,
            registryId,
            imageIds: [{ imageDigest: digest }],
          }),
          call(),
        );
        pushedAt = out.imageDetails?.[0]?.imagePushedAt;
      } catch (e) {
        return failed(`DescribeImages for ${repositoryName}@${digest} in ${scanRegion}`, e, digest);
      }
    }
  }

  // 2. The scan of that digest.
  let scanStarted = false;
  let complete: DescribeImageScanFindingsCommandOutput | undefined;
  let last = 'has not started';
  while (!complete) {
    if (remaining() <= 0)
      return timedOut(`scan of ${ref} (${digest}) in ${scanRegion} ${last}`, digest);
    let progress: string;
    try {
      const out = await scanClient.send(
        new DescribeImageScanFindingsCommand({
          repositoryName,
          registryId,
          imageId: { imageDigest: digest },
          maxResults: PAGE_SIZE,
        }),
        call(),
      );
      const status = out.imageScanStatus?.status ?? 'UNKNOWN';
      const description = out.imageScanStatus?.description;
      const handling = statusHandling(status);
      const ended = `scan of ${ref} (${digest}) in ${scanRegion} ended ${status}${description ? `: ${oneLine(description)}` : ''}`;
      if (handling === undefined)
        return result('ERROR', `${ended} (a status the gate does not know: no verdict)`, digest);
      if (handling.action === 'error') return result('ERROR', `${ended} (${handling.why})`, digest);
      if (handling.action === 'expired') {
        const when = out.imageScanFindings?.imageScanCompletedAt;
        return result(
          'BLOCKED',
          `${ended}: Amazon Inspector no longer rescans this image (last scan ${iso(when)}), so there is no current verdict; ` +
            'see docs/runbooks/image-gate-blocked.md#scan_eligibility_expired',
          digest,
        );
      }
      if (handling.action === 'result') {
        const completedAt = out.imageScanFindings?.imageScanCompletedAt;
        if (
          options.scanType === 'BASIC' ||
          (completedAt && pushedAt && completedAt.getTime() > pushedAt.getTime())
        ) {
          complete = out;
          break;
        }
        // Inspector has been seen to answer COMPLETE with no findings seconds after a push, before
        // it scanned anything: only a scan completed after the push is this image's result.
        last = `has no result after the push (${status}, completed ${iso(completedAt)}, pushed ${iso(pushedAt)})`;
        progress = `scan ${status} but not yet after the push (completed ${iso(completedAt)}, pushed ${iso(pushedAt)}) (${elapsed()}s)`;
      } else {
        last = `is still ${status}`;
        progress = `scan ${status} (${elapsed()}s)`;
      }
    } catch (e) {
      if (errorName(e) !== 'ScanNotFoundException')
        return failed(`DescribeImageScanFindings for ${ref} in ${scanRegion}`, e, digest);
      progress = `waiting for the scan to start (${elapsed()}s)`;
      if (options.scanType === 'BASIC' && !scanStarted) {
        // Basic scan-on-push does not cover a replica: start one, once. Under ENHANCED this is never
        // called: Inspector decides when to scan, and StartImageScan is a basic-scanning API.
        scanStarted = true;
        say(`no scan of ${digest} yet: starting one (StartImageScan)`);
        try {
          await scanClient.send(
            new StartImageScanCommand({
              repositoryName,
              registryId,
              imageId: { imageDigest: digest },
            }),
            call(),
          );
        } catch (startError) {
          // LimitExceeded: a scan of this image already ran today; its result will show up.
          if (errorName(startError) !== 'LimitExceededException')
            return failed(`StartImageScan for ${ref} in ${scanRegion}`, startError, digest);
          say(`StartImageScan: ${describeError(startError)}; waiting for the existing scan`);
        }
      }
    }
    if (remaining() <= 0)
      return timedOut(`scan of ${ref} (${digest}) in ${scanRegion} ${last}`, digest);
    say(progress);
    await pause();
  }

  // 3. Every page of findings, with the SDK's paginator; bounded by the deadline and a page cap.
  // A listing that does not end normally (a page token seen before, more pages than the cap, the
  // deadline) has not been read whole: that is "could not check", never a verdict on what was read.
  const findings: Finding[] = [];
  let closed = 0;
  let pages = 0;
  const add = (page: DescribeImageScanFindingsCommandOutput): void => {
    const found = findingsOfPage(page.imageScanFindings);
    findings.push(...found.findings);
    closed += found.closed;
    pages += 1;
  };
  const couldNotCheck = (verdict: 'ERROR' | 'TIMEOUT', why: string): RegionResult =>
    result(
      verdict,
      `could not check ${ref} in ${scanRegion}: ${why} (read ${plural(pages, 'page')}, ${plural(findings.length, 'finding')}): no verdict`,
      digest,
    );
  add(complete);
  if (complete.nextToken) {
    // Every token handed out so far. The paginator's own `stopOnSameToken` ends the loop quietly
    // when a token repeats (@smithy/core createPaginator: `hasNext = token !== prevToken`), which
    // reads as "no more pages": the gate then judged a listing it never finished (issue 26). So
    // the paginator runs without it and the tokens are checked here, each against all before it.
    const seen = new Set<string>([complete.nextToken]);
    const signal = AbortSignal.timeout(Math.max(1, remaining()));
    try {
      const paginator = paginateDescribeImageScanFindings(
        { client: scanClient, pageSize: PAGE_SIZE, startingToken: complete.nextToken },
        { repositoryName, registryId, imageId: { imageDigest: digest } },
        { abortSignal: signal },
      );
      for await (const page of paginator) {
        add(page);
        const next = page.nextToken;
        if (!next) break;
        if (seen.has(next))
          return couldNotCheck(
            'ERROR',
            `DescribeImageScanFindings repeated the page token ${JSON.stringify(next)} after page ${pages}, so the listing did not end`,
          );
        seen.add(next);
        if (pages >= MAX_FINDINGS_PAGES)
          return couldNotCheck(
            'ERROR',
            `DescribeImageScanFindings still had a next page after ${MAX_FINDINGS_PAGES} pages (the page cap), so the listing did not end`,
          );
        if (remaining() <= 0)
          return couldNotCheck(
            'TIMEOUT',
            `--timeout ${options.timeoutSeconds} ran out with page ${pages + 1} of DescribeImageScanFindings still to read`,
          );
      }
    } catch (e) {
      if (isAbort(e) && remaining() <= 0)
        return couldNotCheck(
          'TIMEOUT',
          `page ${pages + 1} of DescribeImageScanFindings did not answer before --timeout ${options.timeoutSeconds}`,
        );
      return couldNotCheck(
        'ERROR',
        `page ${pages + 1} of DescribeImageScanFindings failed: ${describeError(e)}`,
      );
    }
  }

  const counts = countBySeverity(findings);
  say(`scan ${complete.imageScanStatus?.status} (${elapsed()}s): ${formatCounts(counts)}`);
  if (closed > 0)
    say(
      `not counted: ${plural(closed, 'CLOSED Inspector finding')} (no longer present in the image)`,
    );
  const blocking = sortFindings(findings.filter((f) => isBlocking(f.severity, options.failOn)));
  if (blocking.length === 0) {
    return {
      region,
      verdict: 'PASS',
      exitCode: 0,
      reason: `no findings at or above ${options.failOn} in ${region}`,
      digest,
      counts,
      blocking,
    };
  }
  const unranked = blocking.filter((f) => !isRecognised(f.severity)).length;
  say(
    `${plural(blocking.length, 'finding')} at or above ${options.failOn}${unranked > 0 ? ` or of a severity the gate does not rank (${unranked})` : ''}:`,
  );
  for (const line of formatFindingsTable(blocking)) say(`  ${line}`);
  const names = [...new Set(blocking.map((f) => f.name))];
  const shown =
    names.slice(0, 5).join(', ') + (names.length > 5 ? `, and ${names.length - 5} more` : '');
  const unknown = [
    ...new Set(blocking.filter((f) => !isRecognised(f.severity)).map((f) => f.severity)),
  ];
  const ranked = blocking.length - unranked;
  const parts = [
    ...(ranked > 0 ? [`${plural(ranked, 'finding')} at or above ${options.failOn}`] : []),
    ...(unknown.length > 0
      ? [
          `${plural(unranked, 'finding')} of severity ${unknown.join(', ')}, which the gate does not rank and so blocks at any --fail-on (triage it in Amazon Inspector)`,
        ]
      : []),
  ];
  return {
    region,
    verdict: 'BLOCKED',
    exitCode: 1,
    reason: `${parts.join(' and ')} in ${region} (${shown})`,
    digest,
    counts,
    blocking,
  };
}

/**
 * How the image's replication from `scanRegion` to `region` stands, from DescribeImageReplicationStatus.
 * Only FAILED stops the gate: anything else (including an error of this call) leaves DescribeImages
 * in the stage's region as the judge, and is printed once.
 */
async function replicationTo(
  scanClient: ECRClient,
  scanRegion: string,
  region: string,
  options: GateOptions,
  call: () => { abortSignal: AbortSignal },
): Promise<{ failed?: string; note: string }> {
  const ref = `${options.repository}:${options.tag}`;
  try {
    const out = await scanClient.send(
      new DescribeImageReplicationStatusCommand({
        repositoryName: options.repository,
        registryId: options.registryId,
        imageId: { imageTag: options.tag },
      }),
      call(),
    );
    const status = out.replicationStatuses?.find((s) => s.region === region);
    if (!status)
      return {
        note: `replication of ${ref} to ${region}: none recorded in ${scanRegion} (pushed before ${region} was a destination? the Image stage's backfill copies it)`,
      };
    if (status.status === 'FAILED') {
      return {
        failed: `replication of ${ref} from ${scanRegion} to ${region} FAILED${status.failureCode ? `: ${status.failureCode}` : ''} (see docs/runbooks/image-gate-blocked.md)`,
        note: '',
      };
    }
    return { note: `replication of ${ref} to ${region}: ${status.status ?? 'unknown'}` };
  } catch (e) {
    if (errorName(e) === 'ImageNotFoundException')
      return { note: `image ${ref} not found in ${scanRegion} either (not pushed yet?)` };
    return {
      note: `DescribeImageReplicationStatus in ${scanRegion}: ${describeError(e)} (going on with DescribeImages)`,
    };
  }
}

function nonZeroCounts(counts: SeverityCounts | undefined): string {
  const present = [...SEVERITIES, 'UNRECOGNISED' as const]
    .filter((s) => (counts?.[s] ?? 0) > 0)
    .map((s) => `${s} ${counts?.[s]}`);
  return present.length > 0 ? present.join(', ') : 'no findings';
}

/** Margin past the deadline for the last call's abort to land, before a region is given up. */
const HARD_STOP_GRACE_MS = 5000;

/** Checks every region in parallel; the verdict is the worst of them. Never runs past the timeout. */
export async function runGate(options: GateOptions, deps: GateDeps): Promise<GateResult> {
  const start = deps.now();
  const ref = `${options.repository}:${options.tag}`;
  deps.log(
    `image-gate: checking ${ref} in ${options.regions.join(', ')} (${options.scanType} scanning, fail on ${options.failOn} and above, timeout ${options.timeoutSeconds}s)`,
  );
  // Every wait and call inside is bounded by the deadline; this is the last line of defence, in
  // real time, should anything still hang.
  let timer: NodeJS.Timeout | undefined;
  const hardStop = new Promise<'stop'>((resolve) => {
    timer = setTimeout(() => resolve('stop'), options.timeoutSeconds * 1000 + HARD_STOP_GRACE_MS);
    timer.unref();
  });
  const regions = await Promise.all(
    options.regions.map(async (region): Promise<RegionResult> => {
      // checkRegion turns AWS errors into results; this catch is for anything else, so one region's
      // surprise still reports the others.
      const check = checkRegion(region, options, deps, start).catch((e: unknown): RegionResult => ({
        region,
        verdict: 'ERROR',
        exitCode: EXIT_CODES.ERROR,
        reason: `${region}: ${describeError(e)}`,
        blocking: [],
      }));
      const outcome = await Promise.race([check, hardStop]);
      return outcome === 'stop'
        ? {
            region,
            verdict: 'TIMEOUT',
            exitCode: EXIT_CODES.TIMEOUT,
            reason: `${region}: no result within --timeout ${options.timeoutSeconds}s`,
            blocking: [],
          }
        : outcome;
    }),
  );
  clearTimeout(timer);
  const exitCode = Math.max(...regions.map((r) => r.exitCode)) as ExitCode;
  const verdict =
    (Object.keys(EXIT_CODES) as Verdict[]).find((v) => EXIT_CODES[v] === exitCode) ?? 'ERROR';
  const findings = regions.flatMap((r) => r.blocking.map((f) => ({ ...f, region: r.region })));

  let reason: string;
  if (verdict === 'PASS') {
    const digests = [...new Set(regions.map((r) => r.digest))].join(', ');
    const counts = regions.map((r) => `${r.region}: ${nonZeroCounts(r.counts)}`).join('; ');
    reason = `${ref} (${digests}): no findings at or above ${options.failOn} in ${options.regions.join(', ')} (${counts})`;
  } else {
    const worst = regions.filter((r) => r.verdict === verdict).map((r) => r.reason);
    const others = regions
      .filter((r) => r.verdict !== verdict && r.verdict !== 'PASS')
      .map((r) => `${r.verdict} ${r.reason}`);
    reason = `${verdict === 'BLOCKED' ? `${ref}: ` : ''}${worst.join('; ')}${others.length > 0 ? `; also ${others.join('; ')}` : ''}`;
  }
  return { verdict, exitCode, reason, regions, findings };
}
