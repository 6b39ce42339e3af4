import { EXIT_COULD_NOT_CHECK, EXIT_OK, EXIT_TIMEOUT } from '../../common/errors';
import {
  BatchGetImageCommand,
  DescribeImagesCommand,
  DescribeReplicationBackfillResultsCommand,
  type ECRClient,
  PutImageCommand,
  StartReplicationBackfillCommand,
} from '@aws-sdk/client-ecr';

/**
 * Before any image gate runs: every stage region's replica holds the current tag. ECR replication
 * copies only images pushed after the rule exists, so a region added later never receives an image
 * whose tag already existed (the build is skipped), and its gate would wait until it times out.
 *
 * For each region that lacks the tag:
 *  1. PutImage of the very manifest BatchGetImage returns in the source region: the same bytes, so
 *     the same digest, in one call. ECR accepts it only when the replica already holds every layer
 *     the manifest names (LayersNotFoundException otherwise, ReferencedImagesNotFoundException for
 *     an index).
 *  2. Otherwise ECR's replication backfill for that destination
 *     (https://docs.aws.amazon.com/AmazonECR/latest/userguide/replication-backfill.html), which
 *     copies every image matching the replication rules, layers included; then wait until the tag
 *     is there. One backfill per destination may run at a time: one already running is waited for.
 * Bounded: `timeoutSeconds` covers the whole run; every call is cut at the deadline.
 */

export interface BackfillOptions {
  readonly repository: string;
  readonly tag: string;
  /** Where the image is pushed (the pipeline's region). */
  readonly sourceRegion: string;
  /** Regions whose replica must hold the tag (the source region is left out if given). */
  readonly regions: readonly string[];
  /** The registry's account (the pipeline account): the backfill destination's registry. */
  readonly registryId: string;
  readonly timeoutSeconds: number;
  readonly pollIntervalSeconds: number;
}

export interface BackfillDeps {
  readonly ecrClient: (region: string) => ECRClient;
  readonly sleep: (ms: number) => Promise<void>;
  readonly now: () => number;
  readonly log: (line: string) => void;
  /** Longest wait for one call. @default 60000 */
  readonly callTimeoutMs?: number;
}

export type BackfillVerdict = 'OK' | 'ERROR' | 'TIMEOUT';
type BackfillExitCode = 0 | 3 | 124;
/**
 * 0 every region holds the tag, 3 it could not be made so (an ECR failure or an AWS error), 124
 * timed out: the image gate's codes, from the one table of tools/common/errors.ts.
 */
export const BACKFILL_EXIT_CODES: Record<BackfillVerdict, BackfillExitCode> = {
  OK: EXIT_OK,
  ERROR: EXIT_COULD_NOT_CHECK,
  TIMEOUT: EXIT_TIMEOUT,
};

export interface RegionOutcome {
  readonly region: string;
  readonly verdict: BackfillVerdict;
  /** present | copied | backfilled, or why not. */
  readonly detail: string;
}

export interface BackfillResult {
  readonly verdict: BackfillVerdict;
  readonly exitCode: BackfillExitCode;
  readonly reason: string;
  readonly regions: readonly RegionOutcome[];
}

/** The manifest types ECR stores; asking for all of them returns the manifest as pushed. */
const MANIFEST_TYPES = [
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
];
const DEFAULT_CALL_TIMEOUT_MS = 60_000;
const TERMINAL_FAILURES = new Set(['FAILED', 'STOPPED', 'STOPPING']);

function errorName(e: unknown): string | undefined {
  return e instanceof Error ? e.name : undefined;
}

function isAbort(e: unknown): boolean {
  return errorName(e) === 'AbortError' || errorName(e) === 'TimeoutError';
}

function describe(e: unknown): string {
  if (isAbort(e)) return 'no answer from ECR in time (the call was abandoned)';
  const text =
    e instanceof Error
      ? e.name && e.name !== 'Error'
        ? `${e.name}: ${e.message}`
        : e.message
      : String(e);
  return text.replace(/\s+/g, ' ').trim();
}

interface Manifest {
  readonly manifest: string;
  readonly mediaType?: string;
  readonly digest: string;
}

export async function runBackfill(
  options: BackfillOptions,
  deps: BackfillDeps,
): Promise<BackfillResult> {
  const start = deps.now();
  const deadline = start + options.timeoutSeconds * 1000;
  const remaining = (): number => deadline - deps.now();
  const elapsed = (): number => Math.floor((deps.now() - start) / 1000);
  const call = (): { abortSignal: AbortSignal } => ({
    abortSignal: AbortSignal.any([
      AbortSignal.timeout(deps.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS),
      AbortSignal.timeout(Math.max(1, remaining())),
    ]),
  });
  const { repository: repositoryName, tag, registryId, sourceRegion } = options;
  const ref = `${repositoryName}:${tag}`;
  const regions = options.regions.filter((r) => r !== sourceRegion);
  deps.log(
    `image-backfill: ${ref} from ${sourceRegion} to ${regions.length > 0 ? regions.join(', ') : '(no other region)'} (timeout ${options.timeoutSeconds}s)`,
  );

  const finish = (outcomes: RegionOutcome[], sourceProblem?: RegionOutcome): BackfillResult => {
    const all = sourceProblem ? [sourceProblem] : outcomes;
    const exitCode = Math.max(
      0,
      ...all.map((o) => BACKFILL_EXIT_CODES[o.verdict]),
    ) as BackfillExitCode;
    const verdict =
      (Object.keys(BACKFILL_EXIT_CODES) as BackfillVerdict[]).find(
        (v) => BACKFILL_EXIT_CODES[v] === exitCode,
      ) ?? 'ERROR';
    const reason =
      verdict === 'OK'
        ? `${ref} is in ${[sourceRegion, ...regions].join(', ')} (${all.map((o) => `${o.region}: ${o.detail}`).join('; ') || 'nothing to copy'})`
        : all
            .filter((o) => o.verdict !== 'OK')
            .map((o) => `${o.region}: ${o.detail}`)
            .join('; ');
    return { verdict, exitCode, reason, regions: all };
  };
  if (regions.length === 0) return finish([]);

  // The manifest as pushed, from the source region.
  const source = deps.ecrClient(sourceRegion);
  let manifest: Manifest;
  try {
    const out = await source.send(
      new BatchGetImageCommand({
        repositoryName,
        registryId,
        imageIds: [{ imageTag: tag }],
        acceptedMediaTypes: MANIFEST_TYPES,
      }),
      call(),
    );
    const image = out.images?.[0];
    if (!image?.imageManifest || !image.imageId?.imageDigest) {
      const why = out.failures?.[0]
        ? `${out.failures[0].failureCode}: ${out.failures[0].failureReason}`
        : 'no such image';
      return finish([], {
        region: sourceRegion,
        verdict: 'ERROR',
        detail: `${ref} not found where it is pushed (${why}): did the image build run?`,
      });
    }
    manifest = {
      manifest: image.imageManifest,
      mediaType: image.imageManifestMediaType,
      digest: image.imageId.imageDigest,
    };
  } catch (e) {
    const verdict = isAbort(e) && remaining() <= 0 ? 'TIMEOUT' : 'ERROR';
    return finish([], {
      region: sourceRegion,
      verdict,
      detail: `BatchGetImage for ${ref} failed: ${describe(e)}`,
    });
  }
  deps.log(`[${sourceRegion}] ${ref} is ${manifest.digest}`);

  const outcomes = await Promise.all(
    regions.map((region) =>
      backfillRegion(region, manifest, options, deps, { remaining, elapsed, call }).catch(
        (e: unknown): RegionOutcome => ({ region, verdict: 'ERROR', detail: describe(e) }),
      ),
    ),
  );
  return finish(outcomes);
}

interface Clock {
  readonly remaining: () => number;
  readonly elapsed: () => number;
  readonly call: () => { abortSignal: AbortSignal };
}

async function backfillRegion(
  region: string,
  manifest: Manifest,
  options: BackfillOptions,
  deps: BackfillDeps,
  clock: Clock,
): Promise<RegionOutcome> {
  const { repository: repositoryName, tag, registryId, sourceRegion } = options;
  const ref = `${repositoryName}:${tag}`;
  const client = deps.ecrClient(region);
  const source = deps.ecrClient(sourceRegion);
  const say = (line: string): void => deps.log(`[${region}] ${line}`);
  const outcome = (verdict: BackfillVerdict, detail: string): RegionOutcome => ({
    region,
    verdict,
    detail,
  });
  const failed = (what: string, e: unknown): RegionOutcome =>
    isAbort(e) && clock.remaining() <= 0
      ? outcome('TIMEOUT', `${what}: no answer before --timeout ${options.timeoutSeconds}s`)
      : outcome('ERROR', `${what} failed: ${describe(e)}`);

  /** The digest the tag has in this region, or undefined when it is not there. */
  const present = async (): Promise<string | undefined> => {
    try {
      const out = await client.send(
        new DescribeImagesCommand({ repositoryName, registryId, imageIds: [{ imageTag: tag }] }),
        clock.call(),
      );
      return out.imageDetails?.[0]?.imageDigest;
    } catch (e) {
      if (errorName(e) === 'ImageNotFoundException') return undefined;
      throw e;
    }
  };
  const check = (digest: string, how: string): RegionOutcome =>
    digest === manifest.digest
      ? outcome('OK', how)
      : outcome(
          'ERROR',
          `${ref} is ${digest} here but ${manifest.digest} in ${sourceRegion}: an immutable tag with two contents; do not deploy, see docs/runbooks/image-gate-blocked.md`,
        );

  let digest: string | undefined;
  try {
    digest = await present();
  } catch (e) {
    if (errorName(e) === 'RepositoryNotFoundException')
      return outcome(
        'ERROR',
        `no repository ${repositoryName} in ${region}: the ImageReplicas stage creates it; deploy it first`,
      );
    return failed(`DescribeImages for ${ref} in ${region}`, e);
  }
  if (digest) {
    say(`${ref} is already here`);
    return check(digest, 'present');
  }

  // 1. The same manifest, when the replica holds its layers.
  say(`${ref} is missing: putting the same manifest (${manifest.digest})`);
  try {
    await client.send(
      new PutImageCommand({
        repositoryName,
        registryId,
        imageTag: tag,
        imageManifest: manifest.manifest,
        imageManifestMediaType: manifest.mediaType,
        imageDigest: manifest.digest,
      }),
      clock.call(),
    );
    say(`copied ${ref} (same manifest, ${manifest.digest})`);
    return outcome('OK', 'copied');
  } catch (e) {
    const name = errorName(e);
    if (name === 'ImageAlreadyExistsException' || name === 'ImageTagAlreadyExistsException') {
      // Replication (or another run) got there first.
      const now = await present().catch(() => undefined);
      return now ? check(now, 'present') : failed(`PutImage for ${ref} in ${region}`, e);
    }
    if (name !== 'LayersNotFoundException' && name !== 'ReferencedImagesNotFoundException')
      return failed(`PutImage for ${ref} in ${region}`, e);
    say(
      `the replica lacks the image's layers (${name}): starting ECR's replication backfill to ${region}`,
    );
  }

  // 2. ECR's replication backfill copies the layers too.
  let backfillId: string | undefined;
  try {
    const out = await source.send(
      new StartReplicationBackfillCommand({ registryId, destination: { region, registryId } }),
      clock.call(),
    );
    backfillId = out.replicationBackfillId;
    say(
      `replication backfill ${backfillId ?? '(no id)'} started (${out.status ?? 'unknown status'})`,
    );
  } catch (e) {
    if (errorName(e) !== 'ReplicationBackfillInProgressException')
      return failed(`StartReplicationBackfill to ${region}`, e);
    say('a replication backfill to this region is already running: waiting for it');
  }

  let lastStatus: string | undefined;
  for (;;) {
    if (clock.remaining() <= 0)
      return outcome(
        'TIMEOUT',
        `${ref} did not arrive within --timeout ${options.timeoutSeconds}s (replication backfill ${lastStatus ?? 'status unknown'})`,
      );
    try {
      digest = await present();
    } catch (e) {
      if (errorName(e) !== 'RepositoryNotFoundException')
        return failed(`DescribeImages for ${ref} in ${region}`, e);
    }
    if (digest) {
      say(`${ref} arrived (${clock.elapsed()}s)`);
      return check(digest, 'backfilled');
    }
    if (backfillId) {
      try {
        const out = await source.send(
          new DescribeReplicationBackfillResultsCommand({
            registryId,
            replicationBackfillId: backfillId,
            maxResults: 1,
          }),
          clock.call(),
        );
        lastStatus = out.status;
        if (out.status && TERMINAL_FAILURES.has(out.status)) {
          return outcome(
            'ERROR',
            `replication backfill ${backfillId} to ${region} ended ${out.status}${out.failureCode ? `: ${out.failureCode}` : ''}`,
          );
        }
        if (out.status === 'COMPLETE') {
          // Finished: the tag is there now, or the replication rules do not cover this image.
          const after = await present().catch(() => undefined);
          if (after) return check(after, 'backfilled');
          return outcome(
            'ERROR',
            `replication backfill ${backfillId} to ${region} is COMPLETE but ${ref} is not there: does the registry's replication rule for ${region} match ${repositoryName}?`,
          );
        }
      } catch (e) {
        if (isAbort(e) && clock.remaining() <= 0) continue;
        say(`DescribeReplicationBackfillResults: ${describe(e)} (going on with DescribeImages)`);
      }
    }
    if (clock.remaining() <= 0) continue;
    say(`waiting for ${ref} (backfill ${lastStatus ?? 'running'}, ${clock.elapsed()}s)`);
    await deps.sleep(Math.max(0, Math.min(clock.remaining(), options.pollIntervalSeconds * 1000)));
  }
}
