import { type DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { OperationError, describeAwsError } from '../common/errors';

export type BreakglassResult = 'SUCCEEDED' | 'FAILED' | 'APPLIED_NOT_STORED';

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
export async function writeAudit(client: DynamoDBClient, table: string, record: AuditRecord): Promise<void> {
  try {
    await client.send(new PutItemCommand({ TableName: table, Item: toItem(record), ConditionExpression: 'attribute_not_exists(#at)', ExpressionAttributeNames: { '#at': 'at' } }));
  } catch (e) {
    throw new OperationError(describeAwsError(e, `writing the audit record to table ${table}`));
  }
}
