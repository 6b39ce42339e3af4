import * as path from 'node:path';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import {
  BREAKGLASS_CHECK_DIR,
  type BreakglassCheckTarget,
  type BreakglassCheckTargets,
} from '../../../lib/config/breakglass-check-targets';
import {
  type AuditRecord,
  BREAKGLASS_RUN_METADATA,
  type StoredManifest,
  describeRecord,
  manifestOf,
  outstandingChanges,
  queryRecords,
} from '../../common/breakglass-audit';
import type { RunControl } from '../../common/control';
import {
  CouldNotCheckError,
  UsageError,
  awsErrorName,
  describeAwsError,
  isStop,
} from '../../common/errors';
import {
  diffObjectSets,
  objectsDigest,
  parseObjects,
  showValue,
} from '../../common/manifest-objects';
import { STATUSES_WITHOUT_RESOURCES, isMissingStack } from '../../common/missing-stack';
import type { Output } from '../../common/output';
import { type RecordsLocation, recordsSessionPolicy, stackSessionPolicy } from './sessions';

/**
 * The deploy's breakglass check: before an environment is deployed, is a breakglass change
 * outstanding in it that the commit being deployed does not carry? Such a deploy would replace the
 * fix with what git renders, silently: it is blocked, naming the change, until git carries it or
 * an operator reconciles it (`npx delivery breakglass --env <stage> --reconcile <run id>`).
 * docs/decisions/0032-drift-and-the-breakglass-block.md.
 *
 * It reads each environment through the CDK bootstrap lookup role of the environment's account and
 * region, which exists before the environment's stack does, narrowed by a session policy to the
 * reads it makes (sessions.ts). Per environment: PASS (its stack does not exist, nothing is
 * outstanding, or the commit carries it), BLOCKED, or could not check (which blocks too: a check
 * that could not read the records of a stack that exists has not shown the deploy safe).
 */
export type CheckVerdict = 'PASS' | 'BLOCKED' | 'UNCHECKED';

export interface EnvironmentVerdict {
  readonly stageName: string;
  readonly verdict: CheckVerdict;
  readonly lines: readonly string[];
}

export interface CheckDeps {
  /** STS with the action's own credentials. */
  readonly sts: () => STSClient;
  readonly clients: (
    region: string,
    credentials: Credentials,
  ) => { dynamodb: DynamoDBClient; s3: S3Client; cloudFormation: CloudFormationClient };
  /** Reads a file of the cloud assembly (the targets, this commit's render): bounded (tools/common/files.ts). */
  readonly readFile: (file: string) => Promise<string>;
  readonly output: Output;
}

const ENV_OUTPUTS = {
  table: 'AuditTableName',
  bucket: 'ManifestBucketName',
  key: 'ManifestObjectKey',
} as const;

/** AWS's error name and message, on one line. */
function reason(e: unknown): string {
  const message = (e instanceof Error ? e.message : String(e)).replace(/\s+/g, ' ').trim();
  return `${awsErrorName(e) ?? (e instanceof Error ? e.name : 'Error')}: ${message}`;
}

/** A session in the environment's lookup role, allowed only what `policy` allows. */
async function assumeLookupRole(
  target: BreakglassCheckTarget,
  purpose: string,
  policy: unknown,
  deps: CheckDeps,
  control: RunControl,
): Promise<Credentials> {
  const res = await control.call(`assuming ${target.lookupRoleArn}`, (s) =>
    deps.sts().send(
      new AssumeRoleCommand({
        RoleArn: target.lookupRoleArn,
        RoleSessionName: `breakglass-check-${purpose}-${target.stageName}`.slice(0, 64),
        DurationSeconds: 900,
        Policy: JSON.stringify(policy),
      }),
      { abortSignal: s },
    ),
  );
  const c = res.Credentials;
  if (!c?.AccessKeyId || !c.SecretAccessKey) throw new Error('AssumeRole returned no credentials');
  return {
    accessKeyId: c.AccessKeyId,
    secretAccessKey: c.SecretAccessKey,
    sessionToken: c.SessionToken,
  };
}

/**
 * The KMS key of a table on one, else undefined (on DynamoDB's own key, or not described). A table
 * made before ADR 0035 is on the account's aws/dynamodb key; DynamoDB decrypts a KMS-keyed table's
 * key for each caller (https://docs.aws.amazon.com/kms/latest/developerguide/services-dynamodb.html#dynamodb-authz),
 * and the lookup role denies kms:Decrypt, so the check cannot read it. Asked only after a refused
 * Query. Switching the table by hand (UpdateTable) would make the deploy's own change of the same
 * setting one CloudFormation has not verified against a table already switched; a setting in
 * the config, looked at by a person, is the way past it (ADR 0035, Amendment).
 */
async function kmsKeyOf(
  dynamodb: DynamoDBClient,
  table: string,
  control: RunControl,
): Promise<string | undefined> {
  let sse;
  try {
    sse = (
      await control.call(`describing the DynamoDB table ${table}`, (s) =>
        dynamodb.send(new DescribeTableCommand({ TableName: table }), { abortSignal: s }),
      )
    ).Table?.SSEDescription;
  } catch (e) {
    if (isStop(e)) throw e;
    return undefined;
  }
  if (sse?.SSEType !== 'KMS') return undefined;
  return sse.KMSMasterKeyArn ?? "the account's aws/dynamodb key";
}

async function checkEnvironment(
  target: BreakglassCheckTarget,
  baseDir: string,
  deps: CheckDeps,
  control: RunControl,
): Promise<EnvironmentVerdict> {
  const env = target.stageName;
  const where = `${target.account}/${target.region}`;
  /** Said after the verdict's own lines, whatever it is. */
  const notes: string[] = [];
  const result = (verdict: CheckVerdict, ...lines: string[]): EnvironmentVerdict => ({
    stageName: env,
    verdict,
    lines: [...lines, ...notes],
  });
  const unchecked = (why: string) =>
    result(
      'UNCHECKED',
      `could not check ${env}: ${why}. The deploy is held until the check can read the environment's breakglass records (docs/runbooks/breakglass.md, "The check could not check").`,
    );
  const session = async (purpose: string, policy: unknown) => {
    try {
      return { credentials: await assumeLookupRole(target, purpose, policy, deps, control) };
    } catch (e) {
      if (isStop(e)) throw e;
      return {
        problem: unchecked(
          `cannot assume the bootstrap lookup role ${target.lookupRoleArn}: ${reason(e)} (is ${where} bootstrapped, trusting the pipeline account with \`cdk bootstrap --trust\`? \`npx delivery preflight\` checks it)`,
        ),
      };
    }
  };

  // 1. Its stack: where its records and stored manifest are (the stack's outputs), or that it
  //    does not exist, so nothing of the environment is deployed and no record can exist.
  const first = await session('stack', stackSessionPolicy(target));
  if (first.problem) return first.problem;
  let outputs: Record<string, string>;
  let status: string | undefined;
  try {
    const res = await control.call(`reading the outputs of ${target.stackName}`, (s) =>
      deps
        .clients(target.region, first.credentials)
        .cloudFormation.send(new DescribeStacksCommand({ StackName: target.stackName }), {
          abortSignal: s,
        }),
    );
    status = res.Stacks?.[0]?.StackStatus;
    outputs = Object.fromEntries(
      (res.Stacks?.[0]?.Outputs ?? []).map((o) => [o.OutputKey ?? '', o.OutputValue ?? '']),
    );
  } catch (e) {
    if (isStop(e)) throw e;
    if (isMissingStack(e))
      return result(
        'PASS',
        `${env}: stack ${target.stackName} does not exist in ${where}: nothing of ${env} is deployed yet, so no breakglass change can be outstanding there`,
      );
    return unchecked(describeAwsError(e, `reading the outputs of ${target.stackName}`));
  }
  const never = status ? STATUSES_WITHOUT_RESOURCES.get(status) : undefined;
  if (never)
    return result(
      'PASS',
      `${env}: stack ${target.stackName} is ${status}: ${never} in ${where}, so none of its resources exist and no breakglass change can be outstanding there`,
      ...(status === 'ROLLBACK_COMPLETE'
        ? [
            `${env}: the deploy cannot update a stack in ROLLBACK_COMPLETE and will fail until it is deleted: \`aws cloudformation delete-stack --stack-name ${target.stackName} --region ${target.region}\` (in account ${target.account}; docs/runbooks/breakglass.md, "The check could not check")`,
          ]
        : []),
    );
  const missing = Object.values(ENV_OUTPUTS).filter((k) => !outputs[k]);
  if (missing.length > 0)
    return unchecked(
      `stack ${target.stackName} (${status ?? 'status unknown'}) has no output ${missing.join(', ')}, so where its breakglass records are is not known`,
    );
  const records: RecordsLocation = {
    table: outputs[ENV_OUTPUTS.table],
    bucket: outputs[ENV_OUTPUTS.bucket],
    key: outputs[ENV_OUTPUTS.key],
  };

  // 2. A session for exactly those: the table, the manifest object, its bucket's listing.
  const second = await session('records', recordsSessionPolicy(target, records));
  if (second.problem) return second.problem;
  const { dynamodb, s3 } = deps.clients(target.region, second.credentials);

  // 3. What S3 holds now (its version, and the breakglass run that wrote it, if one did).
  let stored: StoredManifest;
  const object = `s3://${records.bucket}/${records.key}`;
  try {
    const head = await control.call(`reading ${object}`, (s) =>
      s3.send(new HeadObjectCommand({ Bucket: records.bucket, Key: records.key }), {
        abortSignal: s,
      }),
    );
    stored = {
      versionId: head.VersionId ?? 'null',
      breakglassRun: head.Metadata?.[BREAKGLASS_RUN_METADATA],
    };
  } catch (e) {
    if (isStop(e)) throw e;
    const httpStatus = (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    // A 404 is "not there" only because the session may list the bucket (sessions.ts).
    if (awsErrorName(e) === 'NotFound' || awsErrorName(e) === 'NoSuchKey' || httpStatus === 404)
      stored = {};
    else if (httpStatus === 403)
      return unchecked(
        `S3 answered 403 Forbidden to HeadObject of ${object} (a HEAD answer carries no reason): the read is denied (a bucket policy, an SCP, a permissions boundary on the lookup role), or the object does not exist and s3:ListBucket on the bucket is denied, which makes S3 answer 403 instead of 404`,
      );
    else return unchecked(describeAwsError(e, `reading the stored manifest of ${env} (${object})`));
  }

  // 4. Its breakglass records, and which of them are outstanding.
  let found: AuditRecord[];
  try {
    found = await queryRecords(dynamodb, records.table, env, control);
  } catch (e) {
    if (isStop(e)) throw e;
    const refused = (e as Error).message;
    const key = await kmsKeyOf(dynamodb, records.table, control);
    if (key === undefined) return unchecked(refused);
    const onKey = `the audit table ${records.table} is encrypted with a KMS key (${key}), as tables made before this version are, and the bootstrap lookup role the check reads through denies kms:Decrypt`;
    if (target.kmsTableUpgrade)
      return result(
        'PASS',
        `${env}: PASS WITHOUT READING THE BREAKGLASS RECORDS: ${onKey}; the config sets breakglassCheck.kmsTableUpgrade for ${env}, so this deploy, which moves the table to DynamoDB's own key, goes ahead. Remove the setting once it has deployed (docs/runbooks/breakglass.md, "The check could not check")`,
      );
    return unchecked(
      `${onKey}, so DynamoDB refuses its reads (${refused}). This commit's template moves the table to DynamoDB's own key, but that deploy waits for this check. ` +
        `Look at the environment with your own role (\`npx delivery drift --env ${env}\` names any breakglass change git does not carry); then set "breakglassCheck": { "kmsTableUpgrade": true } on ${env} in the config and push: that release deploys without reading the records, once`,
    );
  }
  if (target.kmsTableUpgrade)
    notes.push(
      `${env}: breakglassCheck.kmsTableUpgrade is set but no longer needed (the records were read): remove it from the config`,
    );
  const outstanding = outstandingChanges(found, stored);
  if (outstanding.length === 0)
    return result(
      'PASS',
      `${env}: no outstanding breakglass change (${found.length} records read)`,
    );

  // 5. Does the commit being deployed carry each of them?
  let renderedText: string;
  try {
    renderedText = await deps.readFile(path.join(baseDir, target.manifestFile));
  } catch (e) {
    if (isStop(e)) throw e;
    return unchecked(`this commit's render ${target.manifestFile}: ${(e as Error).message}`);
  }
  const rendered = parseObjects(renderedText, target.manifestFile);
  const renderedDigest = objectsDigest(rendered);
  const blocking: string[] = [];
  const carried: string[] = [];
  for (const r of outstanding) {
    const applied = manifestOf(r);
    if (applied === undefined) {
      blocking.push(
        `${describeRecord(r)}: its record does not hold the manifest it applied, so whether this commit carries it cannot be told`,
      );
      continue;
    }
    let objects;
    try {
      objects = parseObjects(applied, `the manifest of run ${r.runId}`);
    } catch (e) {
      blocking.push(`${describeRecord(r)}: ${(e as Error).message}`);
      continue;
    }
    if (objectsDigest(objects) === renderedDigest) {
      carried.push(`${env}: the commit being deployed carries ${describeRecord(r)}`);
      continue;
    }
    const diffs = diffObjectSets(objects, rendered);
    const shown = diffs.slice(0, 5).map((d) =>
      d.change === 'fields'
        ? `${d.object}: ${d.fields
            .slice(0, 3)
            .map(
              (f) =>
                `${f.path} is ${showValue(f.left)} there, ${showValue(f.right)} in this commit`,
            )
            .join('; ')}${d.fields.length > 3 ? `; and ${d.fields.length - 3} more fields` : ''}`
        : `${d.object}: ${d.change === 'missing-left' ? 'only in this commit' : 'only in the breakglass change'}`,
    );
    blocking.push(
      `${describeRecord(r)} differs from this commit: ${shown.join(' | ')}${diffs.length > 5 ? ` | and ${diffs.length - 5} more objects` : ''}`,
    );
  }
  if (blocking.length === 0) return result('PASS', ...carried);
  const reconcile = outstanding
    .map((r) => `npx delivery breakglass --env ${env} --reconcile ${r.runId} --reason "<why>"`)
    .join('; ');
  return result(
    'BLOCKED',
    ...blocking.map((b) => `BLOCKED ${b}`),
    `${env} was changed by breakglass and this commit does not carry the change: deploying it would replace the fix with what git renders. ` +
      `Commit the same change (docs/runbooks/breakglass.md, "Make it permanent"), or, once the team accepts that git replaces it: ${reconcile}; then retry this stage. ` +
      `\`npx delivery drift --env ${env}\` shows git, S3 and the cluster side by side.`,
  );
}

/** Credentials of a session in the environment's bootstrap lookup role. */
export interface Credentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

/** Per environment its verdict; the exit code: 0 every environment may be deployed, 1 blocked, 3 could not check (the worst wins). */
export interface CheckOutcome {
  readonly exitCode: number;
  readonly environments: readonly {
    readonly environment: string;
    readonly verdict: CheckVerdict;
    /** What the check found, as printed: the records, the fields, how to go on. */
    readonly lines: readonly string[];
  }[];
}

export async function runCheck(
  environments: readonly string[],
  targetsFile: string,
  deps: CheckDeps,
  control: RunControl,
): Promise<CheckOutcome> {
  const out = deps.output;
  let targets: BreakglassCheckTargets;
  try {
    targets = JSON.parse(await deps.readFile(targetsFile)) as BreakglassCheckTargets;
  } catch (e) {
    if (isStop(e)) throw e;
    throw new CouldNotCheckError(
      `cannot read ${targetsFile} (${(e as Error).message}): the synth writes it into the cloud assembly, this action's input`,
    );
  }
  const baseDir = path.dirname(targetsFile);
  const unknown = environments.filter((e) => !targets.environments.some((t) => t.stageName === e));
  if (unknown.length > 0)
    throw new UsageError(
      `${targetsFile} has no environment ${unknown.join(', ')} (it has ${targets.environments.map((t) => t.stageName).join(', ')}): was it written by this commit's synth?`,
    );
  out.out(
    `breakglass-check: ${environments.join(', ')}: is a breakglass change outstanding that this commit does not carry? (${BREAKGLASS_CHECK_DIR})`,
  );
  let exit = 0;
  const verdicts: CheckOutcome['environments'][number][] = [];
  for (const name of environments) {
    const target = targets.environments.find((t) => t.stageName === name) as BreakglassCheckTarget;
    const v = await checkEnvironment(target, baseDir, deps, control);
    for (const line of v.lines) {
      if (v.verdict === 'PASS') out.out(line);
      else out.err(line);
    }
    exit = Math.max(exit, v.verdict === 'PASS' ? 0 : v.verdict === 'BLOCKED' ? 1 : 3);
    verdicts.push({ environment: name, verdict: v.verdict, lines: v.lines });
  }
  out.out(
    `breakglass-check: ${exit === 0 ? 'PASS' : exit === 1 ? 'BLOCKED' : 'COULD NOT CHECK'} (${environments.join(', ')})`,
  );
  return { exitCode: exit, environments: verdicts };
}
