import * as fs from 'node:fs';
import * as path from 'node:path';
import { type DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { type AuditRecord, toCliItem, toItem } from '../../common/breakglass-audit';
import type { RunControl } from '../../common/control';
import { CouldNotCheckError, awsErrorName, describeAwsError, isStop } from '../../common/errors';

export type { AuditRecord, BreakglassResult } from '../../common/breakglass-audit';

/**
 * Writes a new record (a PENDING intent, or a RECONCILED note); never overwrites an earlier one
 * (same environment and time).
 */
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
    throw new CouldNotCheckError(
      describeAwsError(e, `writing the audit record to table ${table}`),
      {
        cause: e,
      },
    );
  }
}

/**
 * Completes a PENDING record (same key) with the attempt's outcome, only while it is still the
 * PENDING record of this run. Should it be anything else (someone resolved it meanwhile), the
 * outcome is written as a record of its own at `fallbackAt`, so that it is never lost.
 */
export async function completeAudit(
  client: DynamoDBClient,
  table: string,
  record: AuditRecord,
  fallbackAt: string,
  control: RunControl,
): Promise<void> {
  try {
    await control.call(
      `completing the audit record in table ${table}`,
      (abortSignal) =>
        client.send(
          new PutItemCommand({
            TableName: table,
            Item: toItem(record),
            ConditionExpression: '#result = :pending AND #run = :me',
            ExpressionAttributeNames: { '#result': 'result', '#run': 'runId' },
            ExpressionAttributeValues: {
              ':pending': { S: 'PENDING' },
              ':me': { S: record.runId },
            },
          }),
          { abortSignal },
        ),
      { finishing: true },
    );
  } catch (e) {
    if (isStop(e)) throw e;
    if (awsErrorName(e) === 'ConditionalCheckFailedException')
      return writeAudit(client, table, { ...record, at: fallbackAt }, control);
    throw new CouldNotCheckError(
      describeAwsError(e, `completing the audit record in table ${table}`),
      {
        cause: e,
      },
    );
  }
}

/**
 * Turns the PENDING record of a run that died into ABANDONED, saying how it was resolved; only
 * while it is still PENDING. Returns false when it no longer was.
 */
export async function resolveAbandoned(
  client: DynamoDBClient,
  table: string,
  record: AuditRecord,
  control: RunControl,
): Promise<boolean> {
  try {
    await control.call(
      `recording how the unfinished run ${record.runId} was resolved (table ${table})`,
      (abortSignal) =>
        client.send(
          new PutItemCommand({
            TableName: table,
            Item: toItem(record),
            ConditionExpression: '#result = :pending AND #run = :run',
            ExpressionAttributeNames: { '#result': 'result', '#run': 'runId' },
            ExpressionAttributeValues: {
              ':pending': { S: 'PENDING' },
              ':run': { S: record.runId },
            },
          }),
          { abortSignal },
        ),
      { finishing: true },
    );
    return true;
  } catch (e) {
    if (awsErrorName(e) === 'ConditionalCheckFailedException') return false;
    if (isStop(e)) throw e;
    throw new CouldNotCheckError(
      describeAwsError(e, `recording how the unfinished run ${record.runId} was resolved`),
      { cause: e },
    );
  }
}

/**
 * When DynamoDB cannot take the record, it is kept on disk as the DynamoDB item itself, so that
 * `aws dynamodb put-item --table-name <table> --item file://<path>` stores it later, unchanged.
 * Returns the file's path.
 */
export function saveAuditLocally(dir: string, record: AuditRecord): string {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = path.join(
    dir,
    `${record.environment}-${record.at.replace(/[:.]/g, '-')}-${record.result}.json`,
  );
  fs.writeFileSync(file, `${JSON.stringify(toCliItem(record), null, 2)}\n`, {
    mode: 0o600,
    flag: 'wx',
  });
  return file;
}

export { toCliItem };
