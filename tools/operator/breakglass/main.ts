import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  GetBucketVersioningCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { createTwoFilesPatch } from 'diff';
import { type EnvironmentConfig, findEnvironment, serviceNames } from '../../../lib/config';
import { parseFlags } from '../../common/args';
import { helpText, printJson, progressOutput } from '../../common/command';
import { REPO_ROOT, chooseToolConfig, invocationDir } from '../../common/config';
import {
  RunControl,
  type SignalSource,
  type StopSignal,
  formatSeconds,
  parseTimeoutSeconds,
} from '../../common/control';
import {
  CouldNotCheckError,
  EXIT_FAILED,
  EXIT_OK,
  EXIT_SIGNAL,
  EXIT_TIMEOUT,
  OperationError,
  TimeoutError,
  UsageError,
  awsErrorName,
  describeAwsError,
  isStop,
} from '../../common/errors';
import { readBoundedFile } from '../../common/files';
import type { Output } from '../../common/output';
import { type Confirm, confirmOrRefuse } from '../../common/prompt';
import { safeForTerminal } from '../../common/terminal';
import {
  type AuditRecord,
  type BreakglassResult,
  saveAuditLocally,
  toItem,
  writeAudit,
} from './audit';
import { type Targets, discoverTargets } from './discovery';
import { type RunKubectl, spawnKubectl } from './kubectl';
import { EnvironmentHold } from './lock';
import {
  checkImageTag,
  checkReplacementManifest,
  findWebImage,
  replaceWebImageTag,
} from './manifest';
import { objectsOutsideWorkload, workloadScope } from './scope';

const USAGE =
  'Usage: npx delivery breakglass --env <stage name> (--image <tag> | --manifest <file>) --reason "<text>" [--dry-run] [--yes] [--timeout <seconds>] [--bucket <b>] [--key <k>] [--table <t>] [--context <kubectl context>] [-c config=<file> | --config <file>] [--allow-outside-workload] [--accept-unversioned-bucket] [--json]';

export const BREAKGLASS_USAGE = helpText({
  usage: USAGE,
  about: `The audited emergency path: fetches the environment's current manifest from S3, changes the web
image's tag (--image) or replaces the whole manifest (--manifest), shows the diff, and after
confirmation, holding the environment against other breakglass runs, applies it with kubectl,
stores it as a new S3 version and records the attempt in the audit table. Try --dry-run first.`,
  options: [
    ['--env <stage name>', 'the environment, such as prod-us-east-1'],
    ['--image <tag>', "the web container's new image tag"],
    ['--manifest <file>', 'the whole manifest to apply instead (every object of the workload)'],
    ['--reason "<text>"', 'why, for the audit record (an incident id)'],
    ['--dry-run', 'show the diff and run kubectl apply --dry-run=client; change nothing'],
    ['--yes', 'do not ask (needed without a terminal)'],
    ['--timeout <seconds>', `the whole run, prompt included (default ${900})`],
    [
      '--bucket, --key, --table <name>',
      "where the manifest and the audit live (default: the stack's outputs)",
    ],
    ['--context <kubectl context>', "kubectl's context (default: the stack's ClusterArn output)"],
    ['--allow-outside-workload', "apply objects outside the workload's kinds and namespace too"],
    ['--accept-unversioned-bucket', 'overwrite the manifest in a bucket without versioning'],
  ],
  config: true,
  json: true,
  verdict: 'refused (you said no, a check failed, the API server rejected it) or the change failed',
  runbook: 'docs/runbooks/breakglass.md',
});

/** Default --timeout: the whole run, the time to read the diff and answer the prompt included. */
export const DEFAULT_TIMEOUT_SECONDS = 900;
/** The most one AWS call (with the SDK's retries) may take. */
export const DEFAULT_CALL_TIMEOUT_MS = 20000;
/** Largest manifest breakglass reads (a --manifest file or the S3 object): the workload's is about 6 KB. */
export const MAX_MANIFEST_BYTES = 256 * 1024;
/** The most reading a --manifest file may take. */
const MANIFEST_READ_TIMEOUT_MS = 20000;
/** Longest --reason, in characters: it goes into every audit record and the hold. */
export const MAX_REASON_CHARS = 1024;
/** Time kept back from kubectl apply for recording its outcome (S3 upload, audit record, hold release). */
const RECORD_RESERVE_MS = 60000;
/** How much longer than the run's remaining time the hold lasts, for clock differences between machines. */
const HOLD_MARGIN_MS = 120000;

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
  /** SIGINT/SIGTERM. @default none (the CLI passes the process's) */
  readonly signals?: SignalSource;
  /** The most one AWS call may take. @default DEFAULT_CALL_TIMEOUT_MS */
  readonly callTimeoutMs?: number;
  /** Where an audit record DynamoDB did not take is saved. @default defaultAuditSpoolDir(<the service's breakglassStateDir>) */
  readonly auditSpoolDir?: string;
}

/**
 * `$XDG_STATE_HOME/<service>-breakglass` (by default `~/.local/state/<service>-breakglass`, the
 * directory `breakglassStateDir` of lib/config/names.ts names): kept across reboots, unlike /tmp,
 * and one per service, so two services' records never mix.
 */
export function defaultAuditSpoolDir(
  stateDirName: string,
  env: NodeJS.ProcessEnv = process.env,
): string {
  const state =
    env.XDG_STATE_HOME && path.isAbsolute(env.XDG_STATE_HOME)
      ? env.XDG_STATE_HOME
      : path.join(os.homedir(), '.local', 'state');
  return path.join(state, stateDirName);
}

export function defaultBreakglassDeps(
  output: Output,
  interactive: boolean,
  confirm: Confirm,
  signals?: SignalSource,
): BreakglassDeps {
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
    repoRoot: REPO_ROOT,
    now: () => new Date(),
    signals,
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

interface Options {
  readonly env: EnvironmentConfig;
  readonly reason: string;
  readonly change: Change;
  readonly overrides: Partial<Targets>;
  readonly dryRun: boolean;
  readonly yes: boolean;
  readonly allowOutsideWorkload: boolean;
  readonly acceptUnversionedBucket: boolean;
  /** --json: progress to stderr, the result as one JSON document on stdout. */
  readonly json: boolean;
}

/**
 * `breakglass`: the audited emergency path. Fetches the environment's current manifests from S3,
 * changes the web image's tag (or replaces the whole manifest), shows the diff, and after
 * confirmation, holding the environment against other breakglass runs, `kubectl apply`s it,
 * stores the result as a new S3 version (only over the version it read) and records the attempt
 * in the audit table. docs/runbooks/breakglass.md is the operator's guide.
 */
export async function breakglassMain(
  argv: readonly string[],
  deps: BreakglassDeps,
): Promise<number> {
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
      timeout: { type: 'string' },
      'allow-outside-workload': { type: 'boolean' },
      'accept-unversioned-bucket': { type: 'boolean' },
      json: { type: 'boolean' },
    },
    USAGE,
  );
  if (flags.help) {
    deps.output.out(BREAKGLASS_USAGE);
    return EXIT_OK;
  }
  const json = flags.json === true;
  // --json: the result is one JSON document on stdout; progress, the diff and the prompt go to stderr.
  const out = progressOutput(deps.output, json);

  // Everything the command line alone can get wrong is checked before any AWS call.
  if (flags.env === undefined || flags.env.trim() === '')
    throw new UsageError(`--env is required\n${USAGE}`);
  if (flags.reason === undefined || flags.reason.trim() === '') {
    throw new UsageError(
      `--reason "<text>" is required and must not be blank: say why, for the audit record (e.g. --reason "INC-1234: 5xx after release, pin previous image")`,
    );
  }
  if ([...flags.reason].length > MAX_REASON_CHARS)
    throw new UsageError(
      `--reason is ${[...flags.reason].length} characters long; at most ${MAX_REASON_CHARS}: put the details in the incident, its id in the reason`,
    );
  // Stored as given (an operator's line breaks are part of it); only what is printed is neutralised.
  const reason = flags.reason;
  const timeoutSeconds = parseTimeoutSeconds(
    '--timeout',
    flags.timeout,
    DEFAULT_TIMEOUT_SECONDS,
    10,
    86400,
  );
  const change = await readChange(flags.image, flags.manifest, deps.cwd);
  const overrides: Partial<Record<keyof Targets, string>> = {};
  for (const name of ['bucket', 'key', 'table', 'context'] as const) {
    const v = flags[name];
    if (v === undefined) continue;
    if (v.trim() === '') throw new UsageError(`--${name} must not be empty`);
    overrides[name] = v;
  }
  const { config: cfg, described } = chooseToolConfig(flags.config, deps.cwd, deps.repoRoot);
  out.out(`Configuration: ${described}`);
  let env: EnvironmentConfig;
  try {
    env = findEnvironment(cfg, flags.env);
  } catch (e) {
    throw new UsageError(`--env: ${(e as Error).message}`);
  }
  const allowOutsideWorkload = flags['allow-outside-workload'] === true;
  if (change.manifestText !== undefined && !allowOutsideWorkload) {
    const outside = objectsOutsideWorkload(change.manifestText, change.label, workloadScope(env));
    if (outside.length > 0)
      throw new UsageError(outsideWorkloadMessage(change.label, env, outside));
  }

  const control = new RunControl({
    timeoutMs: timeoutSeconds * 1000,
    callTimeoutMs: deps.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS,
    now: () => deps.now().getTime(),
    onDeferredInterrupt: (signal, doing) =>
      out.err(
        `breakglass: ${signal} received while ${doing}: finishing that first so that nothing goes unrecorded, then stopping`,
      ),
  });
  const stopListening = deps.signals?.((signal) => control.interrupt(signal));
  try {
    return await run(
      {
        env,
        reason,
        change,
        overrides,
        dryRun: flags['dry-run'] === true,
        yes: flags.yes === true,
        allowOutsideWorkload,
        acceptUnversionedBucket: flags['accept-unversioned-bucket'] === true,
        json,
      },
      { ...deps, output: out },
      control,
      (code, result) => {
        if (json)
          printJson(deps.output, 'breakglass', code, { environment: env.stageName, ...result });
        return code;
      },
    );
  } finally {
    stopListening?.();
  }
}

/** Hands the outcome to the caller (the --json document) and returns the exit code. */
type Report = (code: number, result: Record<string, unknown>) => number;

async function run(
  o: Options,
  deps: BreakglassDeps,
  control: RunControl,
  report: Report,
): Promise<number> {
  const out = deps.output;
  const { env, change } = o;
  out.out(
    `Breakglass${o.dryRun ? ' DRY RUN' : ''} for ${env.stageName} (account ${env.account}, ${env.region})`,
  );
  out.out(`  reason: ${safeForTerminal(o.reason)}`);

  const who = await callerArn(deps.clients.sts(env.region), env, control);
  out.out(`  you:    ${who}`);

  const { targets, fromStack } = await discoverTargets(
    env,
    o.overrides,
    () => deps.clients.cloudFormation(env.region),
    control,
  );
  out.out(`  manifests: s3://${targets.bucket}/${targets.key}`);
  out.out(`  audit:     DynamoDB table ${targets.table}`);
  out.out(`  kubectl:   --context ${targets.context}`);
  if (fromStack.length > 0) out.out(`  (from stack ${env.stackName}: ${fromStack.join(', ')})`);

  const s3 = deps.clients.s3(env.region);
  const versioning = await bucketVersioning(s3, targets.bucket, control);
  if (versioning !== 'Enabled') {
    if (!o.acceptUnversionedBucket) {
      throw new OperationError(
        `refusing: versioning of bucket ${targets.bucket} is ${versioning}, so the upload would replace the only copy of the manifest that runs now. ` +
          `Enable versioning (aws s3api put-bucket-versioning --bucket ${targets.bucket} --versioning-configuration Status=Enabled), or pass --accept-unversioned-bucket to accept losing it (the audit record says so). Nothing was changed.`,
      );
    }
    out.err(
      `WARNING: bucket ${targets.bucket} is not versioned (${versioning}): --accept-unversioned-bucket, the manifest it holds now will be overwritten and not kept`,
    );
  }
  const current = await fetchManifest(s3, targets, control);
  const versionBefore = current.versionId ?? 'null';
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
  const outside = objectsOutsideWorkload(newText, change.label, workloadScope(env));
  if (outside.length > 0) {
    if (!o.allowOutsideWorkload)
      throw new OperationError(outsideWorkloadMessage(source, env, outside));
    out.err(
      `WARNING: --allow-outside-workload: applying objects outside the workload (recorded in the audit record): ${outside.join('; ')}`,
    );
  }

  out.out('');
  if (newText === current.text) {
    out.out(
      `No difference from the stored manifest (version ${versionBefore}): applying it re-asserts it on the cluster.`,
    );
  } else {
    out.outRaw(
      safeDiff(
        createTwoFilesPatch(
          `${source} (version ${versionBefore})`,
          `${source} (new: ${change.label})`,
          current.text,
          newText,
          undefined,
          undefined,
          { context: 3 },
        ),
      ),
    );
  }
  out.out('');
  out.out(`image: ${imageBefore} -> ${imageAfter}`);

  const tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'breakglass-'));
  const manifestFile = path.join(tmpDir, `${env.stageName}.yaml`);
  fs.writeFileSync(manifestFile, newText, { mode: 0o600 });
  let keepTmp = false;
  try {
    const summary = {
      dryRun: o.dryRun,
      action: change.action,
      bucket: targets.bucket,
      key: targets.key,
      s3VersionBefore: versionBefore,
      imageBefore,
      imageAfter,
    };
    if (o.dryRun)
      return report(await dryRunApply(deps, targets.context, manifestFile, control), {
        ...summary,
        result: 'DRY_RUN',
      });

    await confirmOrRefuse({
      yes: o.yes,
      interactive: deps.interactive,
      // The prompt is bounded by --timeout too, and withdrawn on Ctrl-C.
      confirm: (question) =>
        control.call('waiting for your answer', (signal) => deps.confirm(question, signal), {
          timeoutMs: control.remainingMs(),
        }),
      question: `Apply this to ${env.stageName} (kubectl context ${targets.context})? [y/N]`,
      what: `change ${env.stageName}`,
    });

    // The API server's own checks first (schema, strict fields, admission such as Pod Security,
    // webhooks), before the hold is taken: a change it rejects leaves the cluster, S3 and the
    // audit table as they were.
    out.out(`$ kubectl --context ${targets.context} apply --dry-run=server -f ${manifestFile}`);
    const checked = await deps.kubectl(
      ['--context', targets.context, 'apply', '--dry-run=server', '-f', manifestFile],
      out,
      AbortSignal.timeout(Math.max(1000, control.remainingMs())),
    );
    if (checked.exitCode !== 0) {
      if (checked.stopped)
        throw new TimeoutError(
          `timed out: kubectl apply --dry-run=server did not answer within --timeout ${formatSeconds(control.timeoutMs)}; nothing applied, nothing uploaded, no audit record`,
        );
      throw new OperationError(
        `the API server rejected the change (${checked.problem ?? `kubectl apply --dry-run=server exited with code ${checked.exitCode}`}; see kubectl's output above): nothing applied, nothing uploaded, no audit record`,
      );
    }

    const runId = randomUUID();
    const dynamodb = deps.clients.dynamodb(env.region);
    // An interrupt waits for the answer, so that a hold DynamoDB did take is also released.
    const hold = await control.protect('taking the hold on the environment', () =>
      EnvironmentHold.acquire({
        client: dynamodb,
        table: targets.table,
        environment: env.stageName,
        owner: { runId, who, reason: o.reason },
        leaseMs: control.remainingMs() + HOLD_MARGIN_MS,
        now: deps.now(),
        control,
      }),
    );
    try {
      control.checkpoint('holding the environment, before applying');
      // Under the hold: what the diff showed must still be what S3 holds, or this run would apply
      // (and store) a change on top of a version the operator never saw.
      const now = await headManifest(s3, targets, control);
      if (now.etag !== current.etag || (now.versionId ?? 'null') !== versionBefore) {
        throw new OperationError(
          `${source} changed since this run read it (version ${versionBefore}, now ${now.versionId ?? 'null'}${now.lastModified ? `, written ${now.lastModified.toISOString()}` : ''}): another breakglass run or a pipeline deploy. ` +
            `Nothing was applied; run again to see the diff against what runs now.`,
        );
      }
      control.checkpoint('holding the environment, before applying');
      const applyMs = control.remainingMs() - Math.min(RECORD_RESERVE_MS, control.timeoutMs / 4);
      if (applyMs < 1000)
        throw new TimeoutError(
          `timed out: too little of --timeout ${formatSeconds(control.timeoutMs)} is left to apply and record the change; nothing was applied`,
        );

      const record = (result: BreakglassResult, extra: Partial<AuditRecord>): AuditRecord => ({
        environment: env.stageName,
        at: deps.now().toISOString(),
        who,
        reason: o.reason,
        action: change.action,
        result,
        kubectlContext: targets.context,
        bucket: targets.bucket,
        key: targets.key,
        s3VersionBefore: versionBefore,
        imageBefore,
        imageAfter,
        runId,
        outsideWorkload: outside.length > 0 ? outside.join('; ') : undefined,
        bucketVersioning: versioning !== 'Enabled' ? versioning : undefined,
        interruptedBy: control.interrupted,
        ...extra,
      });
      const recorder = (r: AuditRecord) =>
        audited(
          out,
          dynamodb,
          targets.table,
          r,
          control,
          deps.auditSpoolDir ??
            defaultAuditSpoolDir(serviceNames(env.service.name).breakglassStateDir),
        );

      const outcome = await control.protect(
        'kubectl applied the change and its record is written',
        () =>
          applyAndRecord({
            deps,
            control,
            s3,
            targets,
            env,
            newText,
            manifestFile,
            etag: current.etag,
            versionBefore,
            applyMs,
            record,
            recorder,
            keepManifestFile: () => (keepTmp = true),
          }),
      );
      const result = {
        ...summary,
        result: outcome.result,
        runId,
        s3VersionAfter: outcome.versionAfter ?? null,
      };
      if (control.interrupted)
        return report(interruptedAfterApply(out, control.interrupted, outcome.result), result);
      return report(outcome.exitCode, result);
    } finally {
      const problem = await hold.release(control);
      if (problem) out.err(`WARNING: ${problem}`);
    }
  } finally {
    if (!keepTmp) fs.rmSync(tmpDir, { recursive: true, force: true });
  }
}

interface ApplyContext {
  readonly deps: BreakglassDeps;
  readonly control: RunControl;
  readonly s3: S3Client;
  readonly targets: Targets;
  readonly env: EnvironmentConfig;
  readonly newText: string;
  readonly manifestFile: string;
  readonly etag: string | undefined;
  readonly versionBefore: string;
  readonly applyMs: number;
  readonly record: (result: BreakglassResult, extra: Partial<AuditRecord>) => AuditRecord;
  readonly recorder: (r: AuditRecord) => Promise<void>;
  /** Keep the applied manifest file: the operator is told to upload it by hand. */
  readonly keepManifestFile: () => void;
}

/** kubectl apply, the upload (only over the version read) and the audit record: run with interrupts deferred. */
async function applyAndRecord(
  c: ApplyContext,
): Promise<{ exitCode: number; result: BreakglassResult; versionAfter?: string }> {
  const out = c.deps.output;
  const { targets, env } = c;
  const source = `s3://${targets.bucket}/${targets.key}`;
  out.out(`$ kubectl --context ${targets.context} apply -f ${c.manifestFile}`);
  const applied = await c.deps.kubectl(
    ['--context', targets.context, 'apply', '-f', c.manifestFile],
    out,
    AbortSignal.timeout(c.applyMs),
  );
  if (applied.exitCode !== 0) {
    const result: BreakglassResult = applied.stopped ? 'INCOMPLETE' : 'FAILED';
    const why = applied.stopped
      ? `kubectl did not finish within ${formatSeconds(c.applyMs)} (what was left of --timeout) and was stopped`
      : (applied.problem ?? `kubectl exited with code ${applied.exitCode}`);
    await c.recorder(
      c.record(result, { kubectlExitCode: applied.exitCode ?? undefined, error: why }),
    );
    const check = `check with kubectl --context ${targets.context} -n ${serviceNames(c.env.service.name).kubernetes.namespace} get deployment,pods`;
    if (applied.stopped)
      throw new TimeoutError(
        `timed out: ${why}: nothing uploaded to S3; the audit record says INCOMPLETE. The cluster may be partly changed: ${check}`,
      );
    throw new OperationError(
      `${why}: nothing uploaded to S3; the audit record says ${result}. The cluster may be partly changed if kubectl applied some objects before failing: ${check}`,
    );
  }

  let versionAfter: string;
  try {
    versionAfter = await putManifest(c);
  } catch (e) {
    const why =
      awsErrorName(e) === 'PreconditionFailed'
        ? `${source} was written by someone else (the pipeline?) while this run applied, so it was not overwritten`
        : e instanceof TimeoutError
          ? `uploading the new manifest to ${source} timed out (${e.message})`
          : describeAwsError(e, `uploading the new manifest to ${source}`);
    c.keepManifestFile();
    out.err('');
    out.err('!!! THE CLUSTER NOW DIFFERS FROM S3 !!!');
    out.err(`!!! kubectl applied the change to ${env.stageName}, but the upload failed: ${why}`);
    out.err(
      `!!! S3 does not hold what was applied (this run read version ${c.versionBefore}). Store it by hand once you have checked what S3 holds now:`,
    );
    out.err(`!!!   aws s3 cp ${c.manifestFile} ${source} --region ${env.region}`);
    await c.recorder(c.record('APPLIED_NOT_STORED', { error: why }));
    out.err(`!!! The audit record says APPLIED_NOT_STORED.`);
    printPermanentFixAdvice(out, env);
    return {
      exitCode: e instanceof TimeoutError ? EXIT_TIMEOUT : EXIT_FAILED,
      result: 'APPLIED_NOT_STORED',
    };
  }

  await c.recorder(c.record('SUCCEEDED', { s3VersionAfter: versionAfter }));
  out.out('');
  out.out(
    `Applied to ${env.stageName}; stored as ${source} version ${versionAfter} (was ${c.versionBefore}); audit record written (SUCCEEDED).`,
  );
  printPermanentFixAdvice(out, env);
  return { exitCode: EXIT_OK, result: 'SUCCEEDED', versionAfter };
}

/** PutObject only over the version this run read (If-Match on its ETag): S3 refuses it with 412 PreconditionFailed otherwise. */
async function putManifest(c: ApplyContext): Promise<string> {
  const { targets } = c;
  // Conditional writes: https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html
  const put = await c.control.call(
    `uploading the new manifest to s3://${targets.bucket}/${targets.key}`,
    (abortSignal) =>
      c.s3.send(
        new PutObjectCommand({
          Bucket: targets.bucket,
          Key: targets.key,
          Body: c.newText,
          ContentType: 'application/yaml',
          IfMatch: c.etag,
        }),
        { abortSignal },
      ),
    { finishing: true },
  );
  return put.VersionId ?? 'null';
}

function outsideWorkloadMessage(
  source: string,
  env: EnvironmentConfig,
  outside: readonly string[],
): string {
  return (
    `${source} has objects outside the workload of ${env.stageName} (its kinds, in namespace ${workloadScope(env).namespace}): ${outside.join('; ')}. ` +
    `Breakglass applies only the workload; if this is really needed, pass --allow-outside-workload (the audit record lists these objects). Nothing was changed.`
  );
}

/** The diff shows manifest text, which may hold escape sequences: every line is neutralised, the line structure kept. */
function safeDiff(diff: string): string {
  return diff.split('\n').map(safeForTerminal).join('\n');
}

function interruptedAfterApply(out: Output, signal: StopSignal, result: BreakglassResult): number {
  out.err(
    `breakglass: stopped by ${signal} after kubectl apply had started: the apply was let finish and its outcome recorded (audit record ${result}) before exiting`,
  );
  return EXIT_SIGNAL[signal];
}

async function readChange(
  image: string | undefined,
  manifest: string | undefined,
  cwd: string,
): Promise<Change> {
  if (image !== undefined && manifest !== undefined)
    throw new UsageError('give either --image <tag> or --manifest <file>, not both');
  if (image !== undefined) {
    const tag = checkImageTag(image.trim());
    return { action: 'image', label: `--image ${tag}`, tag };
  }
  if (manifest !== undefined) {
    // A regular file of bounded size, read within a bound: a FIFO, /dev/zero or a huge file is
    // refused before anything else happens (tools/common/files.ts).
    const text = await readBoundedFile(path.resolve(cwd, manifest), {
      what: `--manifest ${manifest}`,
      maxBytes: MAX_MANIFEST_BYTES,
      timeoutMs: MANIFEST_READ_TIMEOUT_MS,
    });
    checkReplacementManifest(text, manifest);
    return { action: 'manifest', label: `--manifest ${manifest}`, manifestText: text };
  }
  throw new UsageError(
    `no change given: pass --image <tag> (new tag for the web container) or --manifest <file> (the whole manifest)\n${USAGE}`,
  );
}

/** The caller's ARN, and a refusal when the credentials are for another account than the environment's. */
async function callerArn(
  sts: STSClient,
  env: EnvironmentConfig,
  control: RunControl,
): Promise<string> {
  let identity;
  try {
    identity = await control.call('identifying you (STS GetCallerIdentity)', (abortSignal) =>
      sts.send(new GetCallerIdentityCommand({}), { abortSignal }),
    );
  } catch (e) {
    if (isStop(e)) throw e;
    throw new CouldNotCheckError(describeAwsError(e, 'identifying you (STS GetCallerIdentity)'));
  }
  if (identity.Account !== env.account) {
    throw new OperationError(
      `your credentials are for account ${identity.Account ?? 'unknown'} (${identity.Arn ?? 'unknown'}), but ${env.stageName} is in account ${env.account}: assume the operator role of that account first`,
    );
  }
  return identity.Arn ?? 'unknown';
}

/** `Enabled`, `Suspended`, or `Disabled` (never enabled: S3 then returns no status). */
async function bucketVersioning(
  s3: S3Client,
  bucket: string,
  control: RunControl,
): Promise<string> {
  try {
    const res = await control.call(`reading the versioning of bucket ${bucket}`, (abortSignal) =>
      s3.send(new GetBucketVersioningCommand({ Bucket: bucket }), { abortSignal }),
    );
    return res.Status ?? 'Disabled';
  } catch (e) {
    if (isStop(e)) throw e;
    if (awsErrorName(e) === 'NoSuchBucket')
      throw new OperationError(
        `bucket ${bucket} does not exist in this account/region (check --bucket)`,
      );
    throw new CouldNotCheckError(
      `${describeAwsError(e, `reading the versioning of bucket ${bucket} (s3:GetBucketVersioning)`)}; breakglass refuses to overwrite a manifest it cannot be sure is kept`,
    );
  }
}

async function fetchManifest(
  s3: S3Client,
  t: Targets,
  control: RunControl,
): Promise<{ text: string; versionId?: string; etag?: string }> {
  const where = `s3://${t.bucket}/${t.key}`;
  try {
    return await control.call(`reading ${where}`, async (abortSignal) => {
      const res = await s3.send(new GetObjectCommand({ Bucket: t.bucket, Key: t.key }), {
        abortSignal,
      });
      if ((res.ContentLength ?? 0) > MAX_MANIFEST_BYTES) {
        (res.Body as { destroy?: () => void } | undefined)?.destroy?.();
        throw new OperationError(
          `${where} is ${res.ContentLength} bytes, more than the ${MAX_MANIFEST_BYTES} breakglass accepts: it is not a manifest the pipeline stored (check --bucket/--key)`,
        );
      }
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of (res.Body ?? []) as AsyncIterable<Uint8Array>) {
        size += chunk.length;
        if (size > MAX_MANIFEST_BYTES)
          throw new OperationError(
            `${where} is more than the ${MAX_MANIFEST_BYTES} bytes breakglass accepts`,
          );
        chunks.push(Buffer.from(chunk));
      }
      return {
        text: Buffer.concat(chunks).toString('utf8'),
        versionId: res.VersionId,
        etag: res.ETag,
      };
    });
  } catch (e) {
    if (isStop(e) || e instanceof OperationError) throw e;
    const name = awsErrorName(e);
    if (name === 'NoSuchKey')
      throw new OperationError(
        `no manifest at ${where}: has the pipeline deployed this environment yet? (check --bucket/--key)`,
      );
    if (name === 'NoSuchBucket')
      throw new OperationError(
        `bucket ${t.bucket} does not exist in this account/region (check --bucket)`,
      );
    throw new CouldNotCheckError(describeAwsError(e, `reading ${where}`));
  }
}

async function headManifest(
  s3: S3Client,
  t: Targets,
  control: RunControl,
): Promise<{ versionId?: string; etag?: string; lastModified?: Date }> {
  const where = `s3://${t.bucket}/${t.key}`;
  try {
    const res = await control.call(`checking ${where} again`, (abortSignal) =>
      s3.send(new HeadObjectCommand({ Bucket: t.bucket, Key: t.key }), { abortSignal }),
    );
    return { versionId: res.VersionId, etag: res.ETag, lastModified: res.LastModified };
  } catch (e) {
    if (isStop(e)) throw e;
    throw new CouldNotCheckError(
      `${describeAwsError(e, `checking ${where} again`)}; nothing was applied`,
    );
  }
}

async function dryRunApply(
  deps: BreakglassDeps,
  context: string,
  file: string,
  control: RunControl,
): Promise<number> {
  const out = deps.output;
  // `--dry-run=client` validates and shows what would change without the API server's admission;
  // `--dry-run=server` needs a reachable cluster (see docs/runbooks/breakglass.md).
  out.out(`$ kubectl --context ${context} apply --dry-run=client -f ${file}`);
  control.checkpoint('about to run the kubectl dry run');
  const res = await control.call(
    'running the kubectl dry run',
    (signal) =>
      deps.kubectl(['--context', context, 'apply', '--dry-run=client', '-f', file], out, signal),
    { timeoutMs: control.remainingMs() },
  );
  out.out('');
  out.out('dry run: nothing applied, nothing uploaded, no audit record');
  if (res.exitCode !== 0) {
    throw new OperationError(
      `the kubectl dry run failed (${res.problem ?? `exit code ${res.exitCode}`}); see kubectl's output above: an invalid manifest, a missing context or no access to the cluster all fail here`,
    );
  }
  return EXIT_OK;
}

/**
 * Writes the audit record. If DynamoDB does not take it, it is saved to a local file (printed,
 * with the command that stores it later) and the run fails; the record is printed only when
 * even that file cannot be written.
 */
async function audited(
  out: Output,
  client: DynamoDBClient,
  table: string,
  record: AuditRecord,
  control: RunControl,
  spoolDir: string,
): Promise<void> {
  try {
    await writeAudit(client, table, record, control);
    return;
  } catch (e) {
    const why = safeForTerminal((e as Error).message);
    let file: string | undefined;
    try {
      file = saveAuditLocally(spoolDir, record);
    } catch (saveError) {
      out.err(
        `!!! the audit record could not be written to DynamoDB (${why}) nor saved in ${spoolDir} (${(saveError as Error).message}). Store it by hand:`,
      );
      out.err(safeForTerminal(JSON.stringify(toItem(record))));
      throw new OperationError(
        `audit record not written for a ${record.result} breakglass attempt on ${record.environment}`,
      );
    }
    out.err(`!!! the audit record could not be written to DynamoDB (${why}).`);
    out.err(`!!! It is saved in ${file}. Store it once DynamoDB answers:`);
    out.err(
      `!!!   aws dynamodb put-item --region <region> --table-name ${table} --item file://${file}`,
    );
    throw new OperationError(
      `audit record of a ${record.result} breakglass attempt on ${record.environment} not in DynamoDB; saved in ${file}`,
    );
  }
}

function printPermanentFixAdvice(out: Output, env: EnvironmentConfig): void {
  out.out('');
  out.out(
    `WARNING: this change is not in git. The next pipeline run that deploys ${env.stageName} with changed manifests restores what is in git.`,
  );
  out.out(
    'Make the fix permanent: commit the same change in git (config or lib/manifests), or revert the bad commit, and push.',
  );
  out.out(
    'To stay on an older image, revert the app/ changes since it: the image tag is a fingerprint of app/, so the same source gives the same tag.',
  );
  out.out('See docs/runbooks/breakglass.md ("Make it permanent").');
}
