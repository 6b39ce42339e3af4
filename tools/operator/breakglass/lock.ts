import * as os from 'node:os';
import { type DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import type { RunControl } from '../../common/control';
import { OperationError, awsErrorName, describeAwsError, isStop } from '../../common/errors';
import { safeForTerminal } from '../../common/terminal';

/**
 * One breakglass run at a time per environment: a hold (a lease with an owner and an expiry) in
 * the audit table, taken with a conditional PutItem, so of two runs exactly one gets it.
 * docs/decisions/0013-breakglass-hold.md says why a hold and not only S3's conditional write.
 *
 * The item lives in its own partition (`<environment>#hold`), so the audit records of the
 * environment (partition `<environment>`) read back without it. It is released by overwriting
 * it as expired (a PutItem again, conditional on the owner): the operator role needs no
 * DeleteItem on the audit table.
 */
export interface HoldOwner {
  readonly runId: string;
  readonly who: string;
  readonly reason: string;
}

export interface Holder {
  readonly runId: string;
  readonly who: string;
  readonly host: string;
  readonly reason: string;
  readonly acquiredAt: string;
  readonly expiresAt: string;
}

const AT = 'hold';

export function holdKey(environment: string): { environment: { S: string }; at: { S: string } } {
  return { environment: { S: `${environment}#hold` }, at: { S: AT } };
}

export class EnvironmentHold {
  private constructor(
    private readonly client: DynamoDBClient,
    private readonly table: string,
    private readonly environment: string,
    private readonly owner: HoldOwner,
    readonly expiresAt: Date,
  ) {}

  /**
   * Takes the hold for `leaseMs`, or throws naming who has it. The lease outlasts the run (it is
   * the run's remaining --timeout plus a margin), so it only ever expires for a run that died
   * without releasing it (kill -9, a laptop closed).
   */
  static async acquire(opts: {
    client: DynamoDBClient;
    table: string;
    environment: string;
    owner: HoldOwner;
    leaseMs: number;
    now: Date;
    control: RunControl;
  }): Promise<EnvironmentHold> {
    const { client, table, environment, owner, control } = opts;
    const expiresAt = new Date(opts.now.getTime() + opts.leaseMs);
    const item = {
      ...holdKey(environment),
      runId: { S: owner.runId },
      who: { S: owner.who },
      host: { S: os.hostname() },
      reason: { S: owner.reason },
      acquiredAt: { S: opts.now.toISOString() },
      expiresAt: { S: expiresAt.toISOString() },
      expiresAtMs: { N: String(expiresAt.getTime()) },
    };
    try {
      await control.call(`taking the hold on ${environment} in table ${table}`, (abortSignal) =>
        client.send(
          new PutItemCommand({
            TableName: table,
            Item: item,
            ConditionExpression: 'attribute_not_exists(#env) OR #exp < :now',
            ExpressionAttributeNames: { '#env': 'environment', '#exp': 'expiresAtMs' },
            ExpressionAttributeValues: { ':now': { N: String(opts.now.getTime()) } },
          }),
          { abortSignal },
        ),
      );
    } catch (e) {
      if (awsErrorName(e) !== 'ConditionalCheckFailedException') {
        if (isStop(e)) throw e;
        throw new OperationError(
          `${describeAwsError(e, `taking the hold on ${environment} (DynamoDB table ${table})`)}; nothing was changed`,
        );
      }
      const holder = await EnvironmentHold.holder(client, table, environment, control, opts.now);
      throw new OperationError(
        `another breakglass run holds ${environment}${holder ? `: ${safeForTerminal(holder.who)} on ${safeForTerminal(holder.host)} since ${holder.acquiredAt} (reason: ${safeForTerminal(holder.reason)}), until ${holder.expiresAt} at the latest` : ''}. ` +
          `Nothing was changed. Let it finish, then run again: the diff will then show its change. A run that died keeps the hold until it expires.`,
      );
    }
    return new EnvironmentHold(client, table, environment, owner, expiresAt);
  }

  /** Who holds the environment now, if anyone (an expired hold counts as nobody). */
  static async holder(
    client: DynamoDBClient,
    table: string,
    environment: string,
    control: RunControl,
    now: Date,
  ): Promise<Holder | undefined> {
    try {
      const res = await control.call(`reading the hold on ${environment}`, (abortSignal) =>
        client.send(
          new GetItemCommand({ TableName: table, Key: holdKey(environment), ConsistentRead: true }),
          { abortSignal },
        ),
      );
      const i = res.Item;
      if (!i || Number(i.expiresAtMs?.N ?? 0) < now.getTime()) return undefined;
      return {
        runId: i.runId?.S ?? '?',
        who: i.who?.S ?? '?',
        host: i.host?.S ?? '?',
        reason: i.reason?.S ?? '',
        acquiredAt: i.acquiredAt?.S ?? '?',
        expiresAt: i.expiresAt?.S ?? '?',
      };
    } catch {
      // Only to name the holder in the refusal: the refusal itself stands without the name.
      return undefined;
    }
  }

  /** Gives the hold back (marks it expired, if it is still ours). Never throws: says what to do instead. */
  async release(control: RunControl): Promise<string | undefined> {
    const now = new Date();
    try {
      await control.call(
        `releasing the hold on ${this.environment}`,
        (abortSignal) =>
          this.client.send(
            new PutItemCommand({
              TableName: this.table,
              Item: {
                ...holdKey(this.environment),
                runId: { S: this.owner.runId },
                who: { S: this.owner.who },
                releasedAt: { S: now.toISOString() },
                expiresAt: { S: now.toISOString() },
                expiresAtMs: { N: '0' },
              },
              ConditionExpression: '#run = :me',
              ExpressionAttributeNames: { '#run': 'runId' },
              ExpressionAttributeValues: { ':me': { S: this.owner.runId } },
            }),
            { abortSignal },
          ),
        { finishing: true },
      );
      return undefined;
    } catch (e) {
      if (awsErrorName(e) === 'ConditionalCheckFailedException')
        return `the hold on ${this.environment} had already passed to another run`;
      return `the hold on ${this.environment} could not be released (${e instanceof Error ? e.message : String(e)}); it expires by itself at ${this.expiresAt.toISOString()}`;
    }
  }
}
