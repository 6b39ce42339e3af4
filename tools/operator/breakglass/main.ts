import { createHash, randomUUID } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  GetBucketVersioningCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectVersionsCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { createTwoFilesPatch } from 'diff';
import {
  type DeliveryConfig,
  type EnvironmentConfig,
  findEnvironment,
  notificationTopicArn,
  serviceNames,
} from '../../../lib/config';
import {
  BREAKGLASS_RUN_METADATA,
  CHANGE_RESULTS,
  describeRecord,
  queryRecords,
} from '../../common/breakglass-audit';
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
  completeAudit,
  resolveAbandoned,
  saveAuditLocally,
  toCliItem,
  writeAudit,
} from './audit';
import { type Targets, discoverTargets } from './discovery';
import { type RunKubectl, spawnKubectl } from './kubectl';
import { EnvironmentHold, type Holder } from './lock';
import {
  checkImageTag,
  checkReplacementManifest,
  findWebImage,
  replaceWebImageTag,
} from './manifest';
import { objectsOutsideWorkload, workloadScope } from './scope';

const USAGE =
  'Usage: npx delivery breakglass --env <stage name> (--image <tag> | --manifest <file>) --reason "<text>" [--dry-run] [--yes] [--timeout <seconds>] [--bucket <b>] [--key <k>] [--table <t>] [--context <kubectl context>] [-c config=<file> | --config <file>] [--allow-outside-workload] [--accept-unversioned-bucket] [--json]\n' +
  '       npx delivery breakglass --env <stage name> --reconcile <run id> --reason "<text>"\n' +
  '       npx delivery breakglass --env <stage name> --release-hold <token>';

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
    [
      '--reconcile <run id>',
      'git now carries that breakglass change, or it is accepted: the next deploy may go ahead',
    ],
    ['--release-hold <token>', 'give back a hold a run of yours left behind'],
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
  /** The pipeline's notification topic lives in the pipeline's region. */
  readonly sns: (region: string) => SNSClient;
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
  /** Where the tokens of the holds this machine asked for are kept (lock.ts). @default the audit spool's directory */
  readonly stateDir?: string;
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
      sns: (region) => new SNSClient({ region }),
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
  readonly config: DeliveryConfig;
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
      reconcile: { type: 'string' },
      'release-hold': { type: 'string' },
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
  const special = (['reconcile', 'release-hold'] as const).filter((f) => flags[f] !== undefined);
  if (special.length > 0) {
    const others = (
      [
        'image',
        'manifest',
        'dry-run',
        'allow-outside-workload',
        'accept-unversioned-bucket',
      ] as const
    ).filter((f) => flags[f] !== undefined);
    if (special.length > 1 || others.length > 0)
      throw new UsageError(
        `--${special[0]} goes alone: not with ${[...special.slice(1), ...others].map((f) => `--${f}`).join(', ')}`,
      );
    if (flags[special[0]]?.trim() === '') throw new UsageError(`--${special[0]} must not be empty`);
  }
  if (
    flags['release-hold'] === undefined &&
    (flags.reason === undefined || flags.reason.trim() === '')
  ) {
    throw new UsageError(
      `--reason "<text>" is required and must not be blank: say why, for the audit record (e.g. --reason "INC-1234: 5xx after release, pin previous image")`,
    );
  }
  // Stored as given (an operator's line breaks are part of it); only what is printed is neutralised.
  const reason = flags.reason ?? '';
  if ([...reason].length > MAX_REASON_CHARS)
    throw new UsageError(
      `--reason is ${[...reason].length} characters long; at most ${MAX_REASON_CHARS}: put the details in the incident, its id in the reason`,
    );
  const timeoutSeconds = parseTimeoutSeconds(
    '--timeout',
    flags.timeout,
    DEFAULT_TIMEOUT_SECONDS,
    10,
    86400,
  );
  const change: Change =
    special.length > 0
      ? { action: 'manifest', label: `--${special[0]}` }
      : await readChange(flags.image, flags.manifest, deps.cwd);
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
  const report: Report = (code, result) => {
    if (json) printJson(deps.output, 'breakglass', code, { environment: env.stageName, ...result });
    return code;
  };
  try {
    if (flags.reconcile !== undefined)
      return await reconcile(
        env,
        overrides,
        flags.reconcile,
        reason,
        { ...deps, output: out },
        control,
        report,
      );
    if (flags['release-hold'] !== undefined)
      return await releaseHold(
        env,
        overrides,
        flags['release-hold'],
        { ...deps, output: out },
        control,
        report,
      );
    return await run(
      {
        env,
        config: cfg,
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
      report,
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

  // Runs that died after writing their intent (kill -9 mid-apply, a laptop closed): shown before
  // the diff is confirmed, since the cluster may run their change; resolved under the hold below.
  const dynamodb = deps.clients.dynamodb(env.region);
  const unfinished = await unfinishedRuns(
    dynamodb,
    targets.table,
    env,
    control,
    deps.now(),
    deps.stateDir ?? defaultAuditSpoolDir(serviceNames(env.service.name).breakglassStateDir),
  );
  for (const r of unfinished.dead) showDeadRun(out, r, versionBefore);
  if (unfinished.live)
    out.err(
      `NOTE: run ${unfinished.live.runId} of ${safeForTerminal(unfinished.live.who)} is applying to ${env.stageName} right now (it holds the environment until ${unfinished.live.expiresAt})`,
    );

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
    // audit table as they were. Nothing is changed yet, so an interrupt (Ctrl-C) stops it at once
    // (kubectl runs in its own process group, which the abort stops).
    out.out(`$ kubectl --context ${targets.context} apply --dry-run=server -f ${manifestFile}`);
    const nothingChanged = 'nothing applied, nothing uploaded, no audit record';
    let checked;
    try {
      checked = await control.call(
        'asking the API server (kubectl apply --dry-run=server)',
        (signal) =>
          deps.kubectl(
            ['--context', targets.context, 'apply', '--dry-run=server', '-f', manifestFile],
            out,
            signal,
          ),
        { timeoutMs: control.remainingMs() },
      );
    } catch (e) {
      if (isStop(e)) throw withSuffix(e, `; ${nothingChanged}`);
      throw e;
    }
    if (checked.exitCode !== 0) {
      if (checked.stopped)
        throw new TimeoutError(
          `timed out: kubectl apply --dry-run=server did not answer within --timeout ${formatSeconds(control.timeoutMs)}; ${nothingChanged}`,
        );
      throw new OperationError(
        `the API server rejected the change (${checked.problem ?? `kubectl apply --dry-run=server exited with code ${checked.exitCode}`}; see kubectl's output above): ${nothingChanged}`,
      );
    }
    control.checkpoint('about to take the hold on the environment; nothing was changed');

    const runId = randomUUID();
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
        stateDir:
          deps.stateDir ?? defaultAuditSpoolDir(serviceNames(env.service.name).breakglassStateDir),
        say: (line) => out.err(line),
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

      // Under the hold no other run is alive: every PENDING record but ours belongs to a run that died.
      await resolveDeadRuns({
        client: dynamodb,
        table: targets.table,
        env,
        control,
        by: { runId, who },
        now: deps.now,
        versionNow: versionBefore,
        out,
      });

      // The last point at which an interrupt stops the run with nothing applied: from the intent
      // on, the run goes through with it and records the outcome (interrupts are deferred).
      control.checkpoint('holding the environment, before recording the intent');
      const at = deps.now().toISOString();
      const record = (result: BreakglassResult, extra: Partial<AuditRecord>): AuditRecord => ({
        environment: env.stageName,
        at,
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
        host: os.hostname(),
        manifestSha256: createHash('sha256').update(newText).digest('hex'),
        manifestGzip: gzipSync(newText),
        outsideWorkload: outside.length > 0 ? outside.join('; ') : undefined,
        bucketVersioning: versioning !== 'Enabled' ? versioning : undefined,
        interruptedBy: control.interrupted,
        ...(result === 'PENDING' ? {} : { completedAt: deps.now().toISOString() }),
        ...extra,
      });
      const spoolDir =
        deps.auditSpoolDir ??
        defaultAuditSpoolDir(serviceNames(env.service.name).breakglassStateDir);
      // The intent, before kubectl runs: should this process die during the apply, the table
      // still says who applied what (its digest and content) over which S3 version.
      try {
        await writeAudit(dynamodb, targets.table, record('PENDING', {}), control);
      } catch (e) {
        if (isStop(e)) throw withSuffix(e, '; nothing was applied');
        throw new CouldNotCheckError(
          `${(e as Error).message}: the intent could not be recorded, so nothing was applied`,
        );
      }
      // Each outcome is recorded, then announced on the pipeline's topic, whether or not
      // DynamoDB took the record (the cluster was changed either way).
      const recorder = async (r: AuditRecord) => {
        try {
          await audited(
            out,
            targets.table,
            r,
            () => completeAudit(dynamodb, targets.table, r, deps.now().toISOString(), control),
            spoolDir,
          );
        } finally {
          await notify(deps, o.config, env, r, control);
        }
      };

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
            runId,
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

/** The same stop (timeout or interrupt), its message completed with what it left unchanged. */
function withSuffix<E extends Error>(e: E, suffix: string): E {
  e.message = `${e.message}${suffix}`;
  return e;
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
  readonly runId: string;
  readonly applyMs: number;
  readonly record: (result: BreakglassResult, extra: Partial<AuditRecord>) => AuditRecord;
  readonly recorder: (r: AuditRecord) => Promise<void>;
  /** Keep the applied manifest file: the operator is told to upload it by hand. */
  readonly keepManifestFile: () => void;
}

/** kubectl apply, the upload (only over the version read) and the audit record: run with interrupts deferred. */
async function applyAndRecord(c: ApplyContext): Promise<{
  exitCode: number;
  result: BreakglassResult;
  record: AuditRecord;
  versionAfter?: string;
}> {
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
    const failed = c.record(result, { kubectlExitCode: applied.exitCode ?? undefined, error: why });
    await c.recorder(failed);
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
    const refused = awsErrorName(e) === 'PreconditionFailed';
    const why = refused
      ? `${source} was written by someone else (the pipeline?) while this run applied, so it was not overwritten`
      : e instanceof TimeoutError
        ? `uploading the new manifest to ${source} timed out (${e.message})`
        : describeAwsError(e, `uploading the new manifest to ${source}`);
    // What S3 holds instead: the version the cluster's change is now recorded against.
    const found = refused ? await versionNow(c) : undefined;
    c.keepManifestFile();
    out.err('');
    out.err('!!! THE CLUSTER NOW DIFFERS FROM S3 !!!');
    out.err(`!!! kubectl applied the change to ${env.stageName}, but the upload failed: ${why}`);
    out.err(
      `!!! S3 does not hold what was applied (this run read version ${c.versionBefore}${found ? `; S3 now holds version ${found}` : ''}). Store it by hand once you have checked what S3 holds now:`,
    );
    out.err(
      `!!!   aws s3 cp ${c.manifestFile} ${source} --region ${env.region} --metadata ${BREAKGLASS_RUN_METADATA}=${c.runId}`,
    );
    const record = c.record('APPLIED_NOT_STORED', { error: why, s3VersionFound: found });
    await c.recorder(record);
    out.err(`!!! The audit record says APPLIED_NOT_STORED.`);
    printPermanentFixAdvice(out, env, c.runId);
    return {
      exitCode: e instanceof TimeoutError ? EXIT_TIMEOUT : EXIT_FAILED,
      result: 'APPLIED_NOT_STORED',
      record,
    };
  }

  // S3's If-Match compares ETags, not versions: a version written meanwhile with identical content
  // has the same ETag, and the upload replaced it instead of the version read. Name what was replaced.
  const replaced = await replacedVersion(c, versionAfter);
  if (replaced !== undefined && replaced !== c.versionBefore)
    out.err(
      `NOTE: the upload replaced S3 version ${replaced}, not version ${c.versionBefore} that this run read: someone (the pipeline?) wrote the same content in between. The audit record names both.`,
    );
  const record = c.record('SUCCEEDED', {
    s3VersionAfter: versionAfter,
    s3VersionReplaced: replaced !== c.versionBefore ? replaced : undefined,
  });
  await c.recorder(record);
  out.out('');
  out.out(
    `Applied to ${env.stageName}; stored as ${source} version ${versionAfter} (was ${replaced ?? c.versionBefore}); audit record written (SUCCEEDED, run ${c.runId}).`,
  );
  printPermanentFixAdvice(out, env, c.runId);
  return { exitCode: EXIT_OK, result: 'SUCCEEDED', record, versionAfter };
}

/**
 * PutObject only over the version this run read (If-Match on its ETag): S3 refuses it with 412
 * PreconditionFailed otherwise. The version carries the run's id as metadata: what S3 holds then
 * says which breakglass run wrote it (the deploy's breakglass check reads it).
 */
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
          Metadata: { [BREAKGLASS_RUN_METADATA]: c.runId },
        }),
        { abortSignal },
      ),
    { finishing: true },
  );
  return put.VersionId ?? 'null';
}

/** The version S3 holds now (after a refused upload), or undefined when it cannot be read. */
async function versionNow(c: ApplyContext): Promise<string | undefined> {
  try {
    const res = await c.control.call(
      `reading which version S3 holds now`,
      (abortSignal) =>
        c.s3.send(new HeadObjectCommand({ Bucket: c.targets.bucket, Key: c.targets.key }), {
          abortSignal,
        }),
      { finishing: true },
    );
    return res.VersionId ?? 'null';
  } catch {
    return undefined;
  }
}

/**
 * The version that the upload `versionAfter` replaced: the next older version of the key
 * (ListObjectVersions lists a key's versions newest first). `unknown (...)` when it cannot be read.
 */
async function replacedVersion(c: ApplyContext, versionAfter: string): Promise<string | undefined> {
  if (versionAfter === 'null') return undefined;
  try {
    const res = await c.control.call(
      `reading which S3 version the upload replaced`,
      (abortSignal) =>
        c.s3.send(
          new ListObjectVersionsCommand({
            Bucket: c.targets.bucket,
            Prefix: c.targets.key,
            MaxKeys: 20,
          }),
          { abortSignal },
        ),
      { finishing: true },
    );
    const versions = [...(res.Versions ?? []), ...(res.DeleteMarkers ?? [])]
      .filter((v) => v.Key === c.targets.key)
      .sort((a, b) => (b.LastModified?.getTime() ?? 0) - (a.LastModified?.getTime() ?? 0));
    const i = versions.findIndex((v) => v.VersionId === versionAfter);
    if (i < 0) return `unknown (version ${versionAfter} not among the newest listed)`;
    return versions[i + 1]?.VersionId ?? 'none';
  } catch (e) {
    return `unknown (${describeAwsError(e, 's3:ListBucketVersions')})`;
  }
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
 * Writes the audit record with `write`. If DynamoDB does not take it, it is saved to a local file
 * (printed, with the command that stores it later) and the run fails; the record is printed only
 * when even that file cannot be written.
 */
async function audited(
  out: Output,
  table: string,
  record: AuditRecord,
  write: () => Promise<void>,
  spoolDir: string,
): Promise<void> {
  try {
    await write();
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
      out.err(safeForTerminal(JSON.stringify(toCliItem(record))));
      throw new OperationError(
        `audit record not written for a ${record.result} breakglass attempt on ${record.environment}`,
      );
    }
    out.err(`!!! the audit record could not be written to DynamoDB (${why}).`);
    out.err(`!!! The table has this run's PENDING record (its intent), but not its outcome.`);
    out.err(`!!! It is saved in ${file}. Store it once DynamoDB answers:`);
    out.err(
      `!!!   aws dynamodb put-item --region <region> --table-name ${table} --item file://${file}`,
    );
    throw new OperationError(
      `audit record of a ${record.result} breakglass attempt on ${record.environment} not in DynamoDB; saved in ${file}`,
    );
  }
}

function printPermanentFixAdvice(out: Output, env: EnvironmentConfig, runId: string): void {
  out.out('');
  out.out(
    `WARNING: this change is not in git. The next deploy of ${env.stageName} is blocked before it starts until git carries this change or it is reconciled:`,
  );
  out.out(
    `  npx delivery breakglass --env ${env.stageName} --reconcile ${runId} --reason "<why git may now replace it>"`,
  );
  out.out(
    'Make the fix permanent: commit the same change in git (config or lib/manifests), or revert the bad commit, and push.',
  );
  out.out(
    'To stay on an older image, revert the app/ changes since it: the image tag is a fingerprint of app/, so the same source gives the same tag.',
  );
  out.out(
    '`npx delivery drift --env <stage>` shows what still differs. See docs/runbooks/breakglass.md ("Make it permanent").',
  );
}

/** PENDING records of runs that are not running (dead), and the run that holds the environment now, if any. */
async function unfinishedRuns(
  client: DynamoDBClient,
  table: string,
  env: EnvironmentConfig,
  control: RunControl,
  now: Date,
  stateDir: string,
): Promise<{ dead: AuditRecord[]; live?: Holder }> {
  let records: AuditRecord[];
  try {
    records = await queryRecords(client, table, env.stageName, control);
  } catch (e) {
    if (isStop(e)) throw e;
    throw new CouldNotCheckError(
      `${(e as Error).message}; breakglass reads the audit table first, to find runs that died mid-apply (the operator role needs dynamodb:Query on it). Nothing was changed.`,
    );
  }
  const holder = await EnvironmentHold.holder(client, table, env.stageName, control, now);
  // A hold left by a run of this operator whose process is gone is no sign of life.
  const live =
    holder && !EnvironmentHold.ghostOf(holder, stateDir, env.stageName, table) ? holder : undefined;
  const dead = records.filter((r) => r.result === 'PENDING' && r.runId !== live?.runId);
  return { dead, live };
}

function showDeadRun(out: Output, r: AuditRecord, versionNow: string): void {
  out.err('');
  out.err(
    `WARNING: a breakglass run on ${r.environment} died after it wrote its intent and before it recorded an outcome: the cluster may run its change.`,
  );
  out.err(
    `  run:       ${r.runId} (began ${r.at}, ${safeForTerminal(r.who)} on ${safeForTerminal(r.host ?? '?')})`,
  );
  out.err(`  reason:    ${safeForTerminal(r.reason)}`);
  out.err(`  image:     ${r.imageBefore ?? '?'} -> ${r.imageAfter ?? '?'}`);
  out.err(`  manifest:  sha256 ${r.manifestSha256 ?? '?'} (kept in its audit record)`);
  out.err(
    `  S3:        it started from version ${r.s3VersionBefore ?? '?'}; S3 holds version ${versionNow} now${r.s3VersionBefore === versionNow ? ' (its upload never happened)' : ''}`,
  );
  out.err(
    "  This run applies its own complete manifest over whatever that run left, and records in that run's record that it was resolved so (ABANDONED).",
  );
}

/** Under the hold: each PENDING record but ours is a dead run's; it becomes ABANDONED, saying how it was resolved. */
async function resolveDeadRuns(c: {
  client: DynamoDBClient;
  table: string;
  env: EnvironmentConfig;
  control: RunControl;
  by: { runId: string; who: string };
  now: () => Date;
  versionNow: string;
  out: Output;
}): Promise<void> {
  const records = await queryRecords(c.client, c.table, c.env.stageName, c.control);
  for (const r of records.filter((x) => x.result === 'PENDING' && x.runId !== c.by.runId)) {
    const resolution =
      `the run died after writing its intent (no outcome recorded); found by run ${c.by.runId} of ${c.by.who}, ` +
      `which applied its own complete manifest over it. S3 held version ${c.versionNow}${r.s3VersionBefore === c.versionNow ? ', the one the dead run started from: its upload never happened' : ''}; ` +
      'whether its kubectl apply reached the cluster is not known (its manifest is in this record).';
    const ok = await resolveAbandoned(
      c.client,
      c.table,
      {
        ...r,
        result: 'ABANDONED',
        resolvedAt: c.now().toISOString(),
        resolvedBy: c.by.runId,
        resolution,
      },
      c.control,
    );
    if (ok)
      c.out.err(
        `breakglass: recorded run ${r.runId} as ABANDONED (resolved by this run ${c.by.runId})`,
      );
  }
}

/**
 * Tells the pipeline's notification topic (pipeline account and region) that the environment was
 * changed by hand. Never fails the run: the audit record is the source of truth, and the deploy's
 * breakglass check reads that, not the message.
 */
async function notify(
  deps: BreakglassDeps,
  config: DeliveryConfig,
  env: EnvironmentConfig,
  record: AuditRecord,
  control: RunControl,
): Promise<void> {
  if (!CHANGE_RESULTS.includes(record.result)) return;
  const pipeline = { ...config.pipeline, name: config.pipeline.name };
  const topic = notificationTopicArn(pipeline);
  const message = [
    `Breakglass change on ${env.stageName} (account ${env.account}, ${env.region}): ${record.result}.`,
    `Record: ${describeRecord(record)}.`,
    `The cluster no longer runs what git renders. The next deploy of ${env.stageName} is blocked before it starts until the commit being deployed carries this change, or an operator runs:`,
    `  npx delivery breakglass --env ${env.stageName} --reconcile ${record.runId} --reason "..."`,
    'See docs/runbooks/breakglass.md.',
  ].join('\n');
  try {
    await control.call(
      `notifying ${topic}`,
      (abortSignal) =>
        deps.clients.sns(config.pipeline.region).send(
          new PublishCommand({
            TopicArn: topic,
            Subject: `Breakglass on ${env.stageName}: ${record.result}`.slice(0, 100),
            Message: message,
          }),
          { abortSignal },
        ),
      { finishing: true },
    );
    deps.output.out(`Notified ${topic}.`);
  } catch (e) {
    deps.output.err(
      `WARNING: ${describeAwsError(e, `notifying the pipeline's topic ${topic}`)}; the audit record is written, and the next deploy of ${env.stageName} is blocked all the same. Tell the team yourself.`,
    );
  }
}

/** `--reconcile <runId>`: records that a breakglass change is carried by git or accepted, so the next deploy may go ahead. */
async function reconcile(
  env: EnvironmentConfig,
  overrides: Partial<Targets>,
  id: string,
  reason: string,
  deps: BreakglassDeps,
  control: RunControl,
  report: Report,
): Promise<number> {
  const out = deps.output;
  const who = await callerArn(deps.clients.sts(env.region), env, control);
  const { targets } = await discoverTargets(
    env,
    overrides,
    () => deps.clients.cloudFormation(env.region),
    control,
  );
  const dynamodb = deps.clients.dynamodb(env.region);
  const records = await queryRecords(dynamodb, targets.table, env.stageName, control);
  const target = records.find((r) => r.runId === id && CHANGE_RESULTS.includes(r.result));
  if (!target) {
    const known = records
      .filter((r) => CHANGE_RESULTS.includes(r.result))
      .slice(-5)
      .map((r) => `${r.runId} (${r.result}, ${r.at})`);
    throw new OperationError(
      `no breakglass change with run id ${safeForTerminal(id)} on ${env.stageName}${known.length > 0 ? `; the latest are: ${known.join(', ')}` : ''}. Nothing was recorded.`,
    );
  }
  const already = records.find((r) => r.result === 'RECONCILED' && r.reconciles === id);
  if (already) {
    out.out(
      `run ${id} was already reconciled at ${already.at} by ${safeForTerminal(already.who)} (reason: ${safeForTerminal(already.reason)}): nothing to do`,
    );
    return report(EXIT_OK, {
      action: 'reconcile',
      reconciles: id,
      result: 'ALREADY_RECONCILED',
      runId: already.runId,
      at: already.at,
    });
  }
  const record: AuditRecord = {
    environment: env.stageName,
    at: deps.now().toISOString(),
    who,
    reason,
    action: 'reconcile',
    result: 'RECONCILED',
    runId: randomUUID(),
    reconciles: id,
    host: os.hostname(),
  };
  await writeAudit(dynamodb, targets.table, record, control);
  out.out(
    `Reconciled: ${describeRecord(target)} no longer blocks the deploy of ${env.stageName} (audit record at ${record.at}, by ${who}).`,
  );
  out.out(
    'The next deploy replaces what breakglass applied with what git renders: `npx delivery drift --env ' +
      `${env.stageName}\` shows the difference.`,
  );
  return report(EXIT_OK, {
    action: 'reconcile',
    reconciles: id,
    result: 'RECONCILED',
    runId: record.runId,
    at: record.at,
  });
}

/** `--release-hold <token>`: gives back a hold a run of this operator left behind. */
async function releaseHold(
  env: EnvironmentConfig,
  overrides: Partial<Targets>,
  token: string,
  deps: BreakglassDeps,
  control: RunControl,
  report: Report,
): Promise<number> {
  await callerArn(deps.clients.sts(env.region), env, control);
  const { targets } = await discoverTargets(
    env,
    overrides,
    () => deps.clients.cloudFormation(env.region),
    control,
  );
  const message = await EnvironmentHold.releaseByToken({
    client: deps.clients.dynamodb(env.region),
    table: targets.table,
    environment: env.stageName,
    token,
    control,
    now: deps.now(),
    stateDir:
      deps.stateDir ?? defaultAuditSpoolDir(serviceNames(env.service.name).breakglassStateDir),
  });
  deps.output.out(message);
  return report(EXIT_OK, { action: 'release-hold', result: message });
}
