import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { type DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import type { RunControl } from '../../common/control';
import {
  CouldNotCheckError,
  OperationError,
  TimeoutError,
  awsErrorName,
  describeAwsError,
  isStop,
} from '../../common/errors';
import { safeForTerminal } from '../../common/terminal';

/**
 * One breakglass run at a time per environment: a hold (a lease with an owner and an expiry) in
 * the audit table, taken with a conditional PutItem, so of two runs exactly one gets it.
 * docs/decisions/0013-breakglass-hold.md says why a hold and not only S3's conditional write.
 *
 * The item lives in its own partition (`<environment>#hold`), so the audit records of the
 * environment (partition `<environment>`) read back without it. It is released by overwriting
 * it as expired (a PutItem again, conditional on its token): the operator role needs no
 * DeleteItem on the audit table.
 *
 * Each hold carries an idempotency token, written to a file on the operator's machine before the
 * PutItem is sent. When DynamoDB stores the hold but its answer is lost (the call times out), or
 * the run is killed, the hold is that run's ghost: the same operator's next run on the machine
 * finds the token in the file, sees that the process that took it is gone, and releases it;
 * from elsewhere `--release-hold <token>` does (docs/decisions/0031-breakglass-leaves-a-trace.md).
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
  readonly holdToken?: string;
}

/** What this machine remembers of a hold it asked for: the file is removed once the hold is given back. */
interface LocalHold {
  readonly token: string;
  readonly runId: string;
  readonly environment: string;
  readonly table: string;
  readonly host: string;
  readonly pid: number;
  readonly takenAt: string;
}

const AT = 'hold';

export function holdKey(environment: string): { environment: { S: string }; at: { S: string } } {
  return { environment: { S: `${environment}#hold` }, at: { S: AT } };
}

function holdsDir(stateDir: string): string {
  return path.join(stateDir, 'holds');
}

function localFile(stateDir: string, h: { environment: string; table: string; token: string }) {
  const safe = (s: string) => s.replace(/[^A-Za-z0-9_.-]/g, '_');
  return path.join(
    holdsDir(stateDir),
    `${safe(h.environment)}--${safe(h.table)}--${safe(h.token)}.json`,
  );
}

function readLocalHolds(stateDir: string, environment: string, table: string): LocalHold[] {
  let names: string[];
  try {
    names = fs.readdirSync(holdsDir(stateDir));
  } catch {
    return [];
  }
  const found: LocalHold[] = [];
  for (const n of names) {
    try {
      const h = JSON.parse(fs.readFileSync(path.join(holdsDir(stateDir), n), 'utf8')) as LocalHold;
      if (h.environment === environment && h.table === table && typeof h.token === 'string')
        found.push(h);
    } catch {
      // not one of ours, or half-written: ignored
    }
  }
  return found;
}

function forgetLocal(stateDir: string, h: { environment: string; table: string; token: string }) {
  fs.rmSync(localFile(stateDir, h), { force: true });
}

/**
 * Whether the process that took a hold on this machine still runs. A killed process whose parent
 * died too may stay a zombie for a while (kill(pid, 0) still succeeds): on Linux, /proc says so.
 */
function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    // /proc/<pid>/stat: "pid (comm) state ..."; comm may hold spaces and parentheses
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
  }
}

export function releaseHoldHint(environment: string, token: string): string {
  return `npx delivery breakglass --env ${environment} --release-hold ${token}`;
}

export class EnvironmentHold {
  private constructor(
    private readonly client: DynamoDBClient,
    private readonly table: string,
    private readonly environment: string,
    private readonly owner: HoldOwner,
    readonly token: string,
    readonly expiresAt: Date,
    private readonly stateDir: string,
  ) {}

  /**
   * Takes the hold for `leaseMs`, or throws naming who has it. The lease outlasts the run (it is
   * the run's remaining --timeout plus a margin), so it only ever expires for a run that died
   * without releasing it (kill -9, a laptop closed). A hold left by this operator's own run on
   * this machine whose process is gone is released first (`say` tells the operator).
   */
  static async acquire(opts: {
    client: DynamoDBClient;
    table: string;
    environment: string;
    owner: HoldOwner;
    leaseMs: number;
    now: Date;
    control: RunControl;
    stateDir: string;
    say: (line: string) => void;
  }): Promise<EnvironmentHold> {
    const { client, table, environment, owner, control, stateDir } = opts;
    const token = randomUUID();
    const expiresAt = new Date(opts.now.getTime() + opts.leaseMs);
    const local: LocalHold = {
      token,
      runId: owner.runId,
      environment,
      table,
      host: os.hostname(),
      pid: process.pid,
      takenAt: opts.now.toISOString(),
    };
    // Written before the request leaves: if its answer is lost, the token is what recognises the hold.
    fs.mkdirSync(holdsDir(stateDir), { recursive: true, mode: 0o700 });
    fs.writeFileSync(localFile(stateDir, local), `${JSON.stringify(local)}\n`, { mode: 0o600 });
    const item = {
      ...holdKey(environment),
      runId: { S: owner.runId },
      holdToken: { S: token },
      who: { S: owner.who },
      host: { S: os.hostname() },
      reason: { S: owner.reason },
      acquiredAt: { S: opts.now.toISOString() },
      expiresAt: { S: expiresAt.toISOString() },
      expiresAtMs: { N: String(expiresAt.getTime()) },
    };
    const put = () =>
      control.call(`taking the hold on ${environment} in table ${table}`, (abortSignal) =>
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
    for (let attempt = 1; ; attempt++) {
      try {
        await put();
        return new EnvironmentHold(client, table, environment, owner, token, expiresAt, stateDir);
      } catch (e) {
        if (awsErrorName(e) !== 'ConditionalCheckFailedException') {
          if (e instanceof TimeoutError) {
            // The write may have been stored: keep the token file, so the next run recognises it.
            throw new TimeoutError(
              `${e.message}. DynamoDB did not answer, so this run cannot tell whether it holds ${environment}: nothing was changed. ` +
                `If the hold was stored, it is yours (token ${token}): your next breakglass run on this machine recognises and releases it; ` +
                `from another machine run \`${releaseHoldHint(environment, token)}\`; otherwise it expires by itself at ${expiresAt.toISOString()}.`,
            );
          }
          forgetLocal(stateDir, local);
          if (isStop(e)) throw e;
          throw new CouldNotCheckError(
            `${describeAwsError(e, `taking the hold on ${environment} (DynamoDB table ${table})`)}; nothing was changed`,
          );
        }
        const holder = await EnvironmentHold.holder(client, table, environment, control, opts.now);
        const ghost =
          attempt === 1 && holder
            ? EnvironmentHold.ghostOf(holder, stateDir, environment, table)
            : undefined;
        if (holder && ghost) {
          const released = await releaseToken(
            client,
            table,
            environment,
            ghost.token,
            control,
            opts.now,
          );
          forgetLocal(stateDir, ghost);
          if (released)
            opts.say(
              `breakglass: released your own hold on ${environment} left by run ${holder.runId} (taken ${holder.acquiredAt} by process ${ghost.pid} on this machine, which no longer runs: its answer was lost or it was killed); taking it again`,
            );
          continue;
        }
        forgetLocal(stateDir, local);
        const mine = holder?.holdToken
          ? readLocalHolds(stateDir, environment, table).find((h) => h.token === holder.holdToken)
          : undefined;
        throw new OperationError(
          `another breakglass run holds ${environment}${holder ? `: ${safeForTerminal(holder.who)} on ${safeForTerminal(holder.host)} since ${holder.acquiredAt} (reason: ${safeForTerminal(holder.reason)}), until ${holder.expiresAt} at the latest` : ''}. ` +
            `Nothing was changed. ` +
            (mine
              ? `It is a run of yours on this machine (process ${mine.pid}, still running). `
              : '') +
            `Let it finish, then run again: the diff will then show its change. A run that died keeps the hold until it expires, ` +
            `unless the operator who ran it releases it: their next run on the same machine does so by itself, or \`${releaseHoldHint(environment, '<token>')}\` with the token its message printed.`,
        );
      }
    }
  }

  /**
   * The hold, when it was taken by a run of this operator on this machine whose process no longer
   * runs (its token is in this machine's state directory): a ghost its owner may release.
   */
  static ghostOf(
    holder: Holder,
    stateDir: string,
    environment: string,
    table: string,
  ): LocalHold | undefined {
    if (!holder.holdToken) return undefined;
    return readLocalHolds(stateDir, environment, table).find(
      (h) => h.token === holder.holdToken && h.host === os.hostname() && !processAlive(h.pid),
    );
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
        holdToken: i.holdToken?.S,
      };
    } catch {
      // Only to name the holder in the refusal: the refusal itself stands without the name.
      return undefined;
    }
  }

  /**
   * `--release-hold <token>`: gives back a hold whose token the operator has (printed by the run
   * that took it). Returns what was done, or throws when the hold is not that one.
   */
  static async releaseByToken(opts: {
    client: DynamoDBClient;
    table: string;
    environment: string;
    token: string;
    control: RunControl;
    now: Date;
    stateDir: string;
  }): Promise<string> {
    const { client, table, environment, token, control, now } = opts;
    const holder = await EnvironmentHold.holder(client, table, environment, control, now);
    if (!holder)
      return `nobody holds ${environment} (the hold was already released or has expired): nothing to release`;
    if (holder.holdToken !== token)
      throw new OperationError(
        `the hold on ${environment} is not the one with token ${token}: ${safeForTerminal(holder.who)} on ${safeForTerminal(holder.host)} holds it since ${holder.acquiredAt} (run ${holder.runId}, until ${holder.expiresAt}). Nothing was released.`,
      );
    if (!(await releaseToken(client, table, environment, token, control, now)))
      return `the hold on ${environment} changed hands meanwhile: nothing released`;
    forgetLocal(opts.stateDir, { environment, table, token });
    return `released the hold on ${environment} of run ${holder.runId} (${safeForTerminal(holder.who)} on ${safeForTerminal(holder.host)}, since ${holder.acquiredAt})`;
  }

  /** Gives the hold back (marks it expired, if it is still ours). Never throws: says what to do instead. */
  async release(control: RunControl): Promise<string | undefined> {
    try {
      const released = await releaseToken(
        this.client,
        this.table,
        this.environment,
        this.token,
        control,
        new Date(),
        this.owner,
      );
      forgetLocal(this.stateDir, {
        environment: this.environment,
        table: this.table,
        token: this.token,
      });
      return released
        ? undefined
        : `the hold on ${this.environment} had already passed to another run`;
    } catch (e) {
      return `the hold on ${this.environment} could not be released (${e instanceof Error ? e.message : String(e)}); your next run on this machine releases it (or \`${releaseHoldHint(this.environment, this.token)}\`), else it expires by itself at ${this.expiresAt.toISOString()}`;
    }
  }
}

/** Overwrites the hold as expired, only while it carries `token`. False when it no longer did. */
async function releaseToken(
  client: DynamoDBClient,
  table: string,
  environment: string,
  token: string,
  control: RunControl,
  now: Date,
  owner?: HoldOwner,
): Promise<boolean> {
  try {
    await control.call(
      `releasing the hold on ${environment}`,
      (abortSignal) =>
        client.send(
          new PutItemCommand({
            TableName: table,
            Item: {
              ...holdKey(environment),
              ...(owner ? { runId: { S: owner.runId }, who: { S: owner.who } } : {}),
              releasedAt: { S: now.toISOString() },
              expiresAt: { S: now.toISOString() },
              expiresAtMs: { N: '0' },
            },
            ConditionExpression: '#token = :token',
            ExpressionAttributeNames: { '#token': 'holdToken' },
            ExpressionAttributeValues: { ':token': { S: token } },
          }),
          { abortSignal },
        ),
      { finishing: true },
    );
    return true;
  } catch (e) {
    if (awsErrorName(e) === 'ConditionalCheckFailedException') return false;
    throw e;
  }
}
