import * as fs from 'node:fs';
import * as path from 'node:path';
import { type DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import type { RunControl } from '../../common/control';
import { OperationError, describeAwsError, isStop } from '../../common/errors';

/**
 * SUCCEEDED: applied and stored. FAILED: kubectl exited non-zero. INCOMPLETE: kubectl was stopped
 * before it finished (its time limit), so the cluster may be partly changed. APPLIED_NOT_STORED:
 * applied, but S3 does not hold it.
 */
export type BreakglassResult = 'SUCCEEDED' | 'FAILED' | 'INCOMPLETE' | 'APPLIED_NOT_STORED';

/**
 * One breakglass attempt, as stored in the audit table (partition key `environment`, sort key
 * `at`). docs/runbooks/breakglass.md shows how to read it back.
 */
export interface AuditRecord {
  readonly environment: string;
  /** ISO-8601 UTC timestamp of the attempt. */
  readonly at: string;
  /** The caller's ARN (STS GetCallerIdentity). */
  readonly who: string;
  /** As given on the command line, control characters included (only the terminal copy is neutralised). */
  readonly reason: string;
  readonly action: 'image' | 'manifest';
  readonly result: BreakglassResult;
  readonly kubectlContext: string;
  readonly bucket: string;
  readonly key: string;
  /** S3 version of the manifest that was replaced. */
  readonly s3VersionBefore: string;
  /** S3 version written by breakglass; absent when nothing was uploaded. */
  readonly s3VersionAfter?: string;
  readonly imageBefore: string;
  readonly imageAfter: string;
  /** The run's id: the owner of the environment's hold in the audit table while it ran. */
  readonly runId?: string;
  /** Objects applied outside the workload's kinds and namespace (only with --allow-outside-workload). */
  readonly outsideWorkload?: string;
  /** The bucket's versioning status when --accept-unversioned-bucket let the run overwrite the only copy. */
  readonly bucketVersioning?: string;
  /** The signal that interrupted the run while it applied and recorded. */
  readonly interruptedBy?: string;
  /** kubectl's exit code, when it failed. */
  readonly kubectlExitCode?: number;
  /** What went wrong, when something did. */
  readonly error?: string;
}

type AttributeValue = { S: string } | { N: string };

export function toItem(record: AuditRecord): Record<string, AttributeValue> {
  const item: Record<string, AttributeValue> = {};
  for (const [k, v] of Object.entries(record)) {
    if (v === undefined) continue;
    item[k] = typeof v === 'number' ? { N: String(v) } : { S: String(v) };
  }
  return item;
}

/** Writes the record; never overwrites an earlier one (same environment and timestamp). */
export async function writeAudit(
  client: DynamoDBClient,
  table: string,
  record: AuditRecord,
  control: RunControl,
): Promise<void> {
  try {
    await control.call(
      `writing the audit record to table ${table}`,
      (abortSignal) =>
        client.send(
          new PutItemCommand({
            TableName: table,
            Item: toItem(record),
            ConditionExpression: 'attribute_not_exists(#at)',
            ExpressionAttributeNames: { '#at': 'at' },
          }),
          { abortSignal },
        ),
      { finishing: true },
    );
  } catch (e) {
    if (isStop(e)) throw e;
    throw new OperationError(describeAwsError(e, `writing the audit record to table ${table}`));
  }
}

/**
 * When DynamoDB cannot take the record, it is kept on disk as the DynamoDB item itself, so that
 * `aws dynamodb put-item --table-name <table> --item file://<path>` stores it later, unchanged.
 * Returns the file's path.
 */
export function saveAuditLocally(dir: string, record: AuditRecord): string {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = path.join(dir, `${record.environment}-${record.at.replace(/[:.]/g, '-')}.json`);
  fs.writeFileSync(file, `${JSON.stringify(toItem(record), null, 2)}\n`, {
    mode: 0o600,
    flag: 'wx',
  });
  return file;
}
