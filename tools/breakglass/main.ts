import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { createTwoFilesPatch } from 'diff';
import { type EnvironmentConfig, findEnvironment } from '../../lib/config';
import { parseFlags } from '../common/args';
import { invocationDir, loadToolConfig } from '../common/config';
import { EXIT_FAILED, EXIT_OK, OperationError, UsageError, awsErrorName, describeAwsError } from '../common/errors';
import type { Output } from '../common/output';
import { type Confirm, confirmOrRefuse } from '../common/prompt';
import { type AuditRecord, type BreakglassResult, writeAudit } from './audit';
import { type Targets, discoverTargets } from './discovery';
import { type RunKubectl, spawnKubectl } from './kubectl';
import { checkImageTag, checkReplacementManifest, findWebImage, replaceWebImageTag } from './manifest';

export const BREAKGLASS_USAGE =
  'usage: npm run breakglass -- --env <stage name> (--image <tag> | --manifest <file>) --reason "<text>" [--dry-run] [--yes] [--bucket <b>] [--key <k>] [--table <t>] [--context <kubectl context>] [--config <file>]';

export interface AwsClients {
  readonly s3: (region: string) => S3Client;
  readonly dynamodb: (region: string) => DynamoDBClient;
  readonly sts: (region: string) => STSClient;
  readonly cloudFormation: (region: string) => CloudFormationClient;
}

export interface BreakglassDeps {
  readonly clients: AwsClients;
  readonly kubectl: RunKubectl;
  readonly confirm: Confirm;
  /** Whether a person can answer the prompt (stdin/stdout are terminals). */
  readonly interactive: boolean;
  readonly output: Output;
  /** Directory that relative paths on the command line are relative to. */
  readonly cwd: string;
  /** The repository root (a --config file must be inside it). @default cwd */
  readonly repoRoot?: string;
  readonly now: () => Date;
}

export function defaultBreakglassDeps(output: Output, interactive: boolean, confirm: Confirm): BreakglassDeps {
  return {
    clients: {
      s3: (region) => new S3Client({ region }),
      dynamodb: (region) => new DynamoDBClient({ region }),
      sts: (region) => new STSClient({ region }),
      cloudFormation: (region) => new CloudFormationClient({ region }),
    },
    kubectl: spawnKubectl(),
    confirm,
    interactive,
    output,
    cwd: invocationDir(),
    repoRoot: process.cwd(),
    now: () => new Date(),
  };
}

interface Change {
  readonly action: 'image' | 'manifest';
  /** What the operator asked for, for the diff header. */
  readonly label: string;
  /** For --manifest: the file's content, read and checked before anything else happens. */
  readonly manifestText?: string;
  readonly tag?: string;
}

/**
 * `breakglass`: the audited emergency path. Fetches the environment's current manifests from S3,
 * changes the web image's tag (or replaces the whole manifest), shows the diff, `kubectl apply`s
 * it after confirmation, stores the result as a new S3 version and records the attempt in the
 * audit table. docs/runbooks/breakglass.md is the operator's guide.
 */
export async function breakglassMain(argv: readonly string[], deps: BreakglassDeps): Promise<number> {
  const out = deps.output;
  const flags = parseFlags(
    argv,
    {
      env: { type: 'string' },
      image: { type: 'string' },
      manifest: { type: 'string' },
      reason: { type: 'string' },
      'dry-run': { type: 'boolean' },
      yes: { type: 'boolean' },
      bucket: { type: 'string' },
      key: { type: 'string' },
      table: { type: 'string' },
      context: { type: 'string' },
      config: { type: 'string' },
    },
    BREAKGLASS_USAGE,
  );
  if (flags.help) {
    out.out(BREAKGLASS_USAGE);
    out.out('Emergency change to one environment, audited. Try --dry-run first. Runbook: docs/runbooks/breakglass.md');
    return EXIT_OK;
  }

  // Everything the command line alone can get wrong is checked before any AWS call.
  if (flags.env === undefined || flags.env.trim() === '') throw new UsageError(`--env is required\n${BREAKGLASS_USAGE}`);
  if (flags.reason === undefined || flags.reason.trim() === '') {
    throw new UsageError(`--reason "<text>" is required and must not be blank: say why, for the audit record (e.g. --reason "INC-1234: 5xx after release, pin previous image")`);
  }
  const reason = flags.reason.trim();
  const change = readChange(flags.image, flags.manifest, deps.cwd);
  const overrides: Partial<Record<keyof Targets, string>> = {};
  for (const name of ['bucket', 'key', 'table', 'context'] as const) {
    const v = flags[name];
    if (v === undefined) continue;
    if (v.trim() === '') throw new UsageError(`--${name} must not be empty`);
    overrides[name] = v;
  }
  const dryRun = flags['dry-run'] === true;
  const cfg = loadToolConfig(flags.config, deps.cwd, deps.repoRoot);
  let env: EnvironmentConfig;
  try {
    env = findEnvironment(cfg, flags.env);
  } catch (e) {
    throw new UsageError(`--env: ${(e as Error).message}`);
  }

  out.out(`Breakglass${dryRun ? ' DRY RUN' : ''} for ${env.stageName} (account ${env.account}, ${env.region})`);
  out.out(`  reason: ${reason}`);

  const who = await callerArn(deps.clients.sts(env.region), env);
  out.out(`  you:    ${who}`);

  const { targets, fromStack } = await discoverTargets(env, overrides, () => deps.clients.cloudFormation(env.region));
  out.out(`  manifests: s3://${targets.bucket}/${targets.key}`);
  out.out(`  audit:     DynamoDB table ${targets.table}`);
  out.out(`  kubectl:   --context ${targets.context}`);
  if (fromStack.length > 0) out.out(`  (from stack ${env.stackName}: ${fromStack.join(', ')})`);

  const s3 = deps.clients.s3(env.region);
  const current = await fetchManifest(s3, targets);
  const versionBefore = current.versionId ?? 'null';
  if (current.versionId === undefined || current.versionId === 'null') {
    out.err(`WARNING: s3://${targets.bucket} is not versioned: the manifest breakglass replaces will not be kept as an old version`);
  }
  const source = `s3://${targets.bucket}/${targets.key}`;

  let newText: string;
  let imageBefore: string;
  let imageAfter: string;
  if (change.action === 'image') {
    const replaced = replaceWebImageTag(current.text, source, change.tag as string);
    newText = replaced.text;
    imageBefore = replaced.before;
    imageAfter = replaced.after;
  } else {
    newText = change.manifestText as string;
    imageBefore = findWebImage(current.text, source) ?? '(none)';
    imageAfter = findWebImage(newText, change.label) ?? '(none)';
  }

  out.out('');
  if (newText === current.text) {
    out.out(`No difference from the stored manifest (version ${versionBefore}): applying it re-asserts it on the cluster.`);
  } else {
    out.outRaw(createTwoFilesPatch(`${source} (version ${versionBefore})`, `${source} (new: ${change.label})`, current.text, newText, undefined, undefined, { context: 3 }));
  }
  out.out('');
  out.out(`image: ${imageBefore} -> ${imageAfter}`);

  const tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'breakglass-'));
  const manifestFile = path.join(tmpDir, `${env.stageName}.yaml`);
  fs.writeFileSync(manifestFile, newText, { mode: 0o600 });
  let keepTmp = false;
  try {
    if (dryRun) return await dryRunApply(deps, targets.context, manifestFile);

    await confirmOrRefuse({
      yes: flags.yes === true,
      interactive: deps.interactive,
      confirm: deps.confirm,
      question: `Apply this to ${env.stageName} (kubectl context ${targets.context})? [y/N]`,
      what: `change ${env.stageName}`,
    });

    const record = (result: BreakglassResult, extra: Partial<AuditRecord>): AuditRecord => ({
      environment: env.stageName,
      at: deps.now().toISOString(),
      who,
      reason,
      action: change.action,
      result,
      kubectlContext: targets.context,
      bucket: targets.bucket,
      key: targets.key,
      s3VersionBefore: versionBefore,
      imageBefore,
      imageAfter,
      ...extra,
    });
    const dynamodb = deps.clients.dynamodb(env.region);

    // The API server's own checks first (schema, strict fields, admission such as Pod Security,
    // webhooks): a change it rejects leaves the cluster, S3 and the audit table as they were.
    out.out(`$ kubectl --context ${targets.context} apply --dry-run=server -f ${manifestFile}`);
    const checked = await deps.kubectl(['--context', targets.context, 'apply', '--dry-run=server', '-f', manifestFile], out);
    if (checked.exitCode !== 0) {
      throw new OperationError(
        `the API server rejected the change (${checked.problem ?? `kubectl apply --dry-run=server exited with code ${checked.exitCode}`}; see kubectl's output above): nothing applied, nothing uploaded, no audit record`,
      );
    }

    out.out(`$ kubectl --context ${targets.context} apply -f ${manifestFile}`);
    const applied = await deps.kubectl(['--context', targets.context, 'apply', '-f', manifestFile], out);
    if (applied.exitCode !== 0) {
      const why = applied.problem ?? `kubectl exited with code ${applied.exitCode}`;
      await audited(out, dynamodb, targets.table, record('FAILED', { kubectlExitCode: applied.exitCode ?? undefined, error: why }));
      throw new OperationError(`${why}: nothing uploaded to S3; the audit record says FAILED. The cluster may be partly changed if kubectl applied some objects before failing: check with kubectl --context ${targets.context} -n hello-web get deployment,pods`);
    }

    let versionAfter: string;
    try {
      const put = await s3.send(new PutObjectCommand({ Bucket: targets.bucket, Key: targets.key, Body: newText, ContentType: 'application/yaml' }));
      versionAfter = put.VersionId ?? 'null';
    } catch (e) {
      keepTmp = true;
      const why = describeAwsError(e, `uploading the new manifest to ${source}`);
      await audited(out, dynamodb, targets.table, record('APPLIED_NOT_STORED', { error: why }));
      out.err('');
      out.err('!!! THE CLUSTER NOW DIFFERS FROM S3 !!!');
      out.err(`!!! kubectl applied the change to ${env.stageName}, but the upload failed: ${why}`);
      out.err(`!!! S3 still holds version ${versionBefore}. Store what the cluster runs by hand:`);
      out.err(`!!!   aws s3 cp ${manifestFile} ${source} --region ${env.region}`);
      out.err(`!!! The audit record says APPLIED_NOT_STORED.`);
      printPermanentFixAdvice(out, env);
      return EXIT_FAILED;
    }

    await audited(out, dynamodb, targets.table, record('SUCCEEDED', { s3VersionAfter: versionAfter }));
    out.out('');
    out.out(`Applied to ${env.stageName}; stored as ${source} version ${versionAfter} (was ${versionBefore}); audit record written (SUCCEEDED).`);
    printPermanentFixAdvice(out, env);
    return EXIT_OK;
  } finally {
    if (!keepTmp) fs.rmSync(tmpDir, { recursive: true, force: true });
  }
}

function readChange(image: string | undefined, manifest: string | undefined, cwd: string): Change {
  if (image !== undefined && manifest !== undefined) throw new UsageError('give either --image <tag> or --manifest <file>, not both');
  if (image !== undefined) {
    const tag = checkImageTag(image.trim());
    return { action: 'image', label: `--image ${tag}`, tag };
  }
  if (manifest !== undefined) {
    const file = path.resolve(cwd, manifest);
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (e) {
      throw new UsageError(`--manifest ${manifest}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
    checkReplacementManifest(text, manifest);
    return { action: 'manifest', label: `--manifest ${manifest}`, manifestText: text };
  }
  throw new UsageError(`no change given: pass --image <tag> (new tag for the web container) or --manifest <file> (the whole manifest)\n${BREAKGLASS_USAGE}`);
}

/** The caller's ARN, and a refusal when the credentials are for another account than the environment's. */
async function callerArn(sts: STSClient, env: EnvironmentConfig): Promise<string> {
  let identity;
  try {
    identity = await sts.send(new GetCallerIdentityCommand({}));
  } catch (e) {
    throw new OperationError(describeAwsError(e, 'identifying you (STS GetCallerIdentity)'));
  }
  if (identity.Account !== env.account) {
    throw new OperationError(`your credentials are for account ${identity.Account ?? 'unknown'} (${identity.Arn ?? 'unknown'}), but ${env.stageName} is in account ${env.account}: assume the operator role of that account first`);
  }
  return identity.Arn ?? 'unknown';
}

async function fetchManifest(s3: S3Client, t: Targets): Promise<{ text: string; versionId?: string }> {
  const where = `s3://${t.bucket}/${t.key}`;
  try {
    const res = await s3.send(new GetObjectCommand({ Bucket: t.bucket, Key: t.key }));
    const text = (await res.Body?.transformToString('utf-8')) ?? '';
    return { text, versionId: res.VersionId };
  } catch (e) {
    const name = awsErrorName(e);
    if (name === 'NoSuchKey') throw new OperationError(`no manifest at ${where}: has the pipeline deployed this environment yet? (check --bucket/--key)`);
    if (name === 'NoSuchBucket') throw new OperationError(`bucket ${t.bucket} does not exist in this account/region (check --bucket)`);
    throw new OperationError(describeAwsError(e, `reading ${where}`));
  }
}

async function dryRunApply(deps: BreakglassDeps, context: string, file: string): Promise<number> {
  const out = deps.output;
  // `--dry-run=client` validates and shows what would change without the API server's admission;
  // `--dry-run=server` needs a reachable cluster (see docs/runbooks/breakglass.md).
  out.out(`$ kubectl --context ${context} apply --dry-run=client -f ${file}`);
  const res = await deps.kubectl(['--context', context, 'apply', '--dry-run=client', '-f', file], out);
  out.out('');
  out.out('dry run: nothing applied, nothing uploaded, no audit record');
  if (res.exitCode !== 0) {
    throw new OperationError(`the kubectl dry run failed (${res.problem ?? `exit code ${res.exitCode}`}); see kubectl's output above: an invalid manifest, a missing context or no access to the cluster all fail here`);
  }
  return EXIT_OK;
}

/** Writes the audit record; if that fails, prints the record so it can be stored by hand, and fails. */
async function audited(out: Output, client: DynamoDBClient, table: string, record: AuditRecord): Promise<void> {
  try {
    await writeAudit(client, table, record);
  } catch (e) {
    out.err(`!!! the audit record could not be written (${(e as Error).message}). Store it by hand:`);
    out.err(JSON.stringify(record));
    throw new OperationError(`audit record not written for a ${record.result} breakglass attempt on ${record.environment}`);
  }
}

function printPermanentFixAdvice(out: Output, env: EnvironmentConfig): void {
  out.out('');
  out.out(`WARNING: this change is not in git. The next pipeline run that deploys ${env.stageName} with changed manifests restores what is in git.`);
  out.out('Make the fix permanent: commit the same change in git (config or lib/manifests), or revert the bad commit, and push.');
  out.out('To stay on an older image, revert the app/ changes since it: the image tag is a fingerprint of app/, so the same source gives the same tag.');
  out.out('See docs/runbooks/breakglass.md ("Make it permanent").');
}
