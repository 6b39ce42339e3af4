import * as path from 'node:path';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { CodePipelineClient, GetPipelineStateCommand } from '@aws-sdk/client-codepipeline';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
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
import type { Output } from '../../common/output';

/**
 * The deploy's breakglass check: before an environment is deployed, is a breakglass change
 * outstanding in it that the commit being deployed does not carry? Such a deploy would replace the
 * fix with what git renders, silently: it is blocked, naming the change, until git carries it or
 * an operator reconciles it (`npx delivery breakglass --env <stage> --reconcile <run id>`).
 * docs/decisions/0032-drift-and-the-breakglass-block.md.
 *
 * Per environment: PASS (nothing outstanding, or the commit carries it), BLOCKED, or could not
 * check (which blocks too: a check that could not read the records has not shown the deploy safe).
 */
export type CheckVerdict = 'PASS' | 'BLOCKED' | 'UNCHECKED';

export interface EnvironmentVerdict {
  readonly stageName: string;
  readonly verdict: CheckVerdict;
  readonly lines: readonly string[];
}

export interface CheckDeps {
  /** STS in the pipeline's region, with the action's own credentials. */
  readonly sts: () => STSClient;
  readonly codePipeline: (region: string) => CodePipelineClient;
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

/** The stage's latest execution status, or undefined when it never ran (GetPipelineState, stageStates[].latestExecution). */
async function stageStatus(
  deps: CheckDeps,
  targets: BreakglassCheckTargets,
  stageName: string,
  control: RunControl,
): Promise<string | undefined> {
  const res = await control.call(`reading the state of pipeline ${targets.pipelineName}`, (s) =>
    deps
      .codePipeline(targets.pipelineRegion)
      .send(new GetPipelineStateCommand({ name: targets.pipelineName }), { abortSignal: s }),
  );
  return res.stageStates?.find((st) => st.stageName === stageName)?.latestExecution?.status;
}

async function checkEnvironment(
  target: BreakglassCheckTarget,
  targets: BreakglassCheckTargets,
  baseDir: string,
  deps: CheckDeps,
  control: RunControl,
): Promise<EnvironmentVerdict> {
  const env = target.stageName;
  const result = (verdict: CheckVerdict, ...lines: string[]): EnvironmentVerdict => ({
    stageName: env,
    verdict,
    lines,
  });
  const unchecked = (why: string) =>
    result(
      'UNCHECKED',
      `could not check ${env}: ${why}. The deploy is held until the check can read the environment's breakglass records.`,
    );

  // 1. The environment's reader role (its stack creates it: absent before the first deployment).
  let credentials: Credentials;
  try {
    const res = await control.call(`assuming ${target.roleArn}`, (s) =>
      deps.sts().send(
        new AssumeRoleCommand({
          RoleArn: target.roleArn,
          RoleSessionName: `breakglass-check-${env}`.slice(0, 64),
          DurationSeconds: 900,
        }),
        { abortSignal: s },
      ),
    );
    const c = res.Credentials;
    if (!c?.AccessKeyId || !c.SecretAccessKey)
      throw new Error('AssumeRole returned no credentials');
    credentials = {
      accessKeyId: c.AccessKeyId,
      secretAccessKey: c.SecretAccessKey,
      sessionToken: c.SessionToken,
    };
  } catch (e) {
    if (isStop(e)) throw e;
    let status: string | undefined;
    try {
      status = await stageStatus(deps, targets, target.pipelineStageName, control);
    } catch (stateError) {
      if (isStop(stateError)) throw stateError;
      return unchecked(
        `${describeAwsError(e, `assuming ${target.roleArn}`)}, and ${describeAwsError(stateError, 'reading the pipeline state')}`,
      );
    }
    if (status !== 'Succeeded')
      return result(
        'PASS',
        `${env}: not deployed yet as far as this pipeline knows (stage ${target.pipelineStageName}: ${status ?? 'never ran'}; ${target.roleArn} cannot be assumed before its stack exists): no breakglass records to check`,
      );
    return unchecked(
      `${describeAwsError(e, `assuming ${target.roleArn}`)}, although stage ${target.pipelineStageName} has deployed it (its stack creates the role)`,
    );
  }
  const { dynamodb, s3, cloudFormation } = deps.clients(target.region, credentials);

  // 2. Where its records and stored manifest are: the stack's outputs.
  let outputs: Record<string, string>;
  try {
    const res = await control.call(`reading the outputs of ${target.stackName}`, (s) =>
      cloudFormation.send(new DescribeStacksCommand({ StackName: target.stackName }), {
        abortSignal: s,
      }),
    );
    outputs = Object.fromEntries(
      (res.Stacks?.[0]?.Outputs ?? []).map((o) => [o.OutputKey ?? '', o.OutputValue ?? '']),
    );
  } catch (e) {
    if (isStop(e)) throw e;
    if (/does not exist/.test((e as Error).message))
      return result(
        'PASS',
        `${env}: stack ${target.stackName} does not exist: nothing deployed, nothing to check`,
      );
    return unchecked(describeAwsError(e, `reading the outputs of ${target.stackName}`));
  }
  const missing = Object.values(ENV_OUTPUTS).filter((k) => !outputs[k]);
  if (missing.length > 0)
    return unchecked(`stack ${target.stackName} has no output ${missing.join(', ')}`);

  // 3. What S3 holds now (its version, and the breakglass run that wrote it, if one did).
  let stored: StoredManifest;
  try {
    const head = await control.call(
      `reading s3://${outputs[ENV_OUTPUTS.bucket]}/${outputs[ENV_OUTPUTS.key]}`,
      (s) =>
        s3.send(
          new HeadObjectCommand({
            Bucket: outputs[ENV_OUTPUTS.bucket],
            Key: outputs[ENV_OUTPUTS.key],
          }),
          { abortSignal: s },
        ),
    );
    stored = {
      versionId: head.VersionId ?? 'null',
      breakglassRun: head.Metadata?.[BREAKGLASS_RUN_METADATA],
    };
  } catch (e) {
    if (isStop(e)) throw e;
    if (awsErrorName(e) === 'NotFound' || awsErrorName(e) === 'NoSuchKey') stored = {};
    else return unchecked(describeAwsError(e, `reading the stored manifest of ${env}`));
  }

  // 4. Its breakglass records, and which of them are outstanding.
  let records: AuditRecord[];
  try {
    records = await queryRecords(dynamodb, outputs[ENV_OUTPUTS.table], env, control);
  } catch (e) {
    if (isStop(e)) throw e;
    return unchecked((e as Error).message);
  }
  const outstanding = outstandingChanges(records, stored);
  if (outstanding.length === 0)
    return result(
      'PASS',
      `${env}: no outstanding breakglass change (${records.length} records read)`,
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

/** Credentials of the environment's reader role. */
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
    const v = await checkEnvironment(target, targets, baseDir, deps, control);
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
