import { gunzipSync } from 'node:zlib';
import { type AttributeValue, type DynamoDBClient, QueryCommand } from '@aws-sdk/client-dynamodb';
import type { RunControl } from './control';
import { CouldNotCheckError, describeAwsError, isStop } from './errors';

/**
 * The breakglass audit table's records, as `npm run breakglass` writes them and as the deploy's
 * breakglass check (tools/pipeline/breakglass-check) and `npm run drift` read them. One item per
 * attempt, partition key `environment`, sort key `at` (when the attempt began). Its life:
 * PENDING (written before kubectl runs: the intent) → SUCCEEDED | FAILED | INCOMPLETE |
 * APPLIED_NOT_STORED (the same item, completed); a PENDING item of a run that died is turned into
 * ABANDONED by the next run, which says how it was resolved. `--reconcile <runId>` adds a
 * RECONCILED item naming the attempt it reconciles. docs/decisions/0031-breakglass-leaves-a-trace.md.
 */
export type BreakglassResult =
  | 'PENDING'
  | 'SUCCEEDED'
  | 'FAILED'
  | 'INCOMPLETE'
  | 'APPLIED_NOT_STORED'
  | 'ABANDONED'
  | 'RECONCILED';

/** Results of attempts that may have changed the cluster: every one of them stays visible until reconciled. */
export const CHANGE_RESULTS: readonly BreakglassResult[] = [
  'PENDING',
  'SUCCEEDED',
  'FAILED',
  'INCOMPLETE',
  'APPLIED_NOT_STORED',
  'ABANDONED',
];

/** S3 object metadata breakglass puts on the manifest it stores: the run that wrote that version. */
export const BREAKGLASS_RUN_METADATA = 'breakglass-run';

export interface AuditRecord {
  readonly environment: string;
  /** ISO-8601 UTC time the attempt began (its PENDING record was written). */
  readonly at: string;
  /** The caller's ARN (STS GetCallerIdentity). */
  readonly who: string;
  /** As given on the command line, control characters included (only the terminal copy is neutralised). */
  readonly reason: string;
  readonly action: 'image' | 'manifest' | 'reconcile';
  readonly result: BreakglassResult;
  readonly kubectlContext?: string;
  readonly bucket?: string;
  readonly key?: string;
  /** S3 version of the manifest the attempt started from (whose diff the operator confirmed). */
  readonly s3VersionBefore?: string;
  /** S3 version written by breakglass; absent when nothing was uploaded. */
  readonly s3VersionAfter?: string;
  /** The version the upload really replaced, when it was not s3VersionBefore (an identical re-write in between). */
  readonly s3VersionReplaced?: string;
  /** The version S3 held when the upload was refused (APPLIED_NOT_STORED): written by someone else meanwhile. */
  readonly s3VersionFound?: string;
  readonly imageBefore?: string;
  readonly imageAfter?: string;
  /** The run's id: also the id `--reconcile` takes, and the owner of the environment's hold while it ran. */
  readonly runId: string;
  /** sha256 (hex) of the manifest handed to kubectl, byte for byte. */
  readonly manifestSha256?: string;
  /** The manifest handed to kubectl, gzip-compressed: what reached the cluster even when S3 does not hold it. */
  readonly manifestGzip?: Uint8Array;
  readonly host?: string;
  /** When the attempt's outcome was recorded. */
  readonly completedAt?: string;
  /** Objects applied outside the workload's kinds and namespace (only with --allow-outside-workload). */
  readonly outsideWorkload?: string;
  /** The bucket's versioning status when --accept-unversioned-bucket let the run overwrite the only copy. */
  readonly bucketVersioning?: string;
  /** The signal that interrupted the run while it applied and recorded. */
  readonly interruptedBy?: string;
  readonly kubectlExitCode?: number;
  readonly error?: string;
  /** ABANDONED: when and by which run the dead run's record was found, and what was found. */
  readonly resolvedAt?: string;
  readonly resolvedBy?: string;
  readonly resolution?: string;
  /** RECONCILED: the runId of the attempt that git now carries or that the operator accepted. */
  readonly reconciles?: string;
}

/** The record as a DynamoDB item (strings S, numbers N, the manifest B). */
export function toItem(record: AuditRecord): Record<string, AttributeValue> {
  const item: Record<string, AttributeValue> = {};
  for (const [k, v] of Object.entries(record)) {
    if (v === undefined) continue;
    if (v instanceof Uint8Array) item[k] = { B: v };
    else item[k] = typeof v === 'number' ? { N: String(v) } : { S: String(v) };
  }
  return item;
}

/** The item as `aws dynamodb put-item --item file://...` takes it (B as base64). */
export function toCliItem(record: AuditRecord): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(toItem(record)).map(([k, v]) => [
      k,
      v.B !== undefined ? { B: Buffer.from(v.B).toString('base64') } : v,
    ]),
  );
}

const NUMBERS = new Set(['kubectlExitCode']);

export function fromItem(item: Record<string, AttributeValue>): AuditRecord {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(item)) {
    if (v.S !== undefined) out[k] = v.S;
    else if (v.N !== undefined) out[k] = NUMBERS.has(k) ? Number(v.N) : v.N;
    else if (v.B !== undefined) out[k] = v.B;
  }
  return { runId: '?', ...out } as unknown as AuditRecord;
}

/** The manifest the attempt handed to kubectl, when its record holds it. */
export function manifestOf(record: AuditRecord): string | undefined {
  return record.manifestGzip
    ? gunzipSync(Buffer.from(record.manifestGzip)).toString('utf8')
    : undefined;
}

/** Pages of audit records read at most: a year of breakglass attempts fits in one. */
const MAX_PAGES = 50;

/**
 * Every record of the environment (its partition; the hold lives in another), oldest first.
 * A listing that does not end (a repeated key, the page cap) is an error: the caller cannot
 * judge a table it has not read.
 */
export async function queryRecords(
  client: DynamoDBClient,
  table: string,
  environment: string,
  control: RunControl,
): Promise<AuditRecord[]> {
  const records: AuditRecord[] = [];
  const seen = new Set<string>();
  let start: Record<string, AttributeValue> | undefined;
  const doing = `reading the breakglass records of ${environment} (DynamoDB table ${table})`;
  for (let page = 1; ; page++) {
    let out;
    try {
      out = await control.call(doing, (abortSignal) =>
        client.send(
          new QueryCommand({
            TableName: table,
            KeyConditionExpression: '#env = :env',
            ExpressionAttributeNames: { '#env': 'environment' },
            ExpressionAttributeValues: { ':env': { S: environment } },
            ConsistentRead: true,
            ExclusiveStartKey: start,
          }),
          { abortSignal },
        ),
      );
    } catch (e) {
      if (isStop(e)) throw e;
      throw new CouldNotCheckError(describeAwsError(e, doing), { cause: e });
    }
    records.push(...(out.Items ?? []).map(fromItem));
    start = out.LastEvaluatedKey;
    if (!start) return records;
    const key = JSON.stringify(start);
    if (seen.has(key) || page >= MAX_PAGES)
      throw new CouldNotCheckError(
        `${doing}: the listing did not end (${seen.has(key) ? 'a page key repeated' : `more than ${MAX_PAGES} pages`}; ${records.length} records read)`,
      );
    seen.add(key);
  }
}

/** What S3 holds now at the manifest key: its version and the breakglass run that wrote it, if one did. */
export interface StoredManifest {
  readonly versionId?: string;
  readonly breakglassRun?: string;
}

/**
 * The breakglass changes still outstanding: attempts that may have changed the cluster, not
 * reconciled, and whose manifest is still what S3 holds: S3 is still at the version the attempt
 * left it at, or the version S3 holds now was written for that run (breakglass's own upload, or a
 * hand upload with its metadata). A pipeline deploy writes a new version without the metadata, so
 * once the pipeline has deployed the environment again (which its breakglass check lets through
 * only when the commit carries the change, or it was reconciled) the attempt is settled.
 */
export function outstandingChanges(
  records: readonly AuditRecord[],
  stored: StoredManifest,
): AuditRecord[] {
  const reconciled = new Set(
    records.filter((r) => r.result === 'RECONCILED' && r.reconciles).map((r) => r.reconciles),
  );
  return records
    .filter((r) => CHANGE_RESULTS.includes(r.result) && !reconciled.has(r.runId))
    .filter((r) => {
      const left = r.s3VersionAfter ?? r.s3VersionFound ?? r.s3VersionBefore;
      return (
        (left !== undefined && left === (stored.versionId ?? 'null')) ||
        (stored.breakglassRun !== undefined && stored.breakglassRun === r.runId)
      );
    })
    .sort((a, b) => a.at.localeCompare(b.at));
}

/** One line naming a record: `prod-us-east-1 run 5f0c... (SUCCEEDED at 2026-..., by arn:..., reason "...")`. */
export function describeRecord(r: AuditRecord): string {
  return `${r.environment} run ${r.runId} (${r.result}, began ${r.at}, by ${r.who}, reason ${JSON.stringify(r.reason)}${r.imageAfter ? `, image ${r.imageBefore ?? '?'} -> ${r.imageAfter}` : ''})`;
}
