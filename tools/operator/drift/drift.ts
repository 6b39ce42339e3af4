import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import {
  type DeliveryConfig,
  type EnvironmentConfig,
  allEnvironments,
  findEnvironment,
} from '../../../lib/config';
import { imageTagFor } from '../../../lib/image/tag';
import { renderEnvironmentYaml } from '../../../lib/manifests/environment';
import { parseFlags } from '../../common/args';
import {
  BREAKGLASS_RUN_METADATA,
  describeRecord,
  outstandingChanges,
  queryRecords,
} from '../../common/breakglass-audit';
import { helpText, printJson, progressOutput } from '../../common/command';
import { loadToolConfig } from '../../common/config';
import { RunControl, type SignalSource, parseTimeoutSeconds } from '../../common/control';
import { EXIT_OK, OperationError, UsageError, describeAwsError, isStop } from '../../common/errors';
import {
  CDK_PRUNE_LABEL_PREFIX,
  type K8sObject,
  type ObjectDifference,
  diffObjectSets,
  parseObjects,
  pruneLabelOf,
  showValue,
  withoutPruneLabel,
} from '../../common/manifest-objects';
import type { Output } from '../../common/output';
import { safeForTerminal } from '../../common/terminal';
import { type Targets, discoverTargets } from '../breakglass/discovery';

/**
 * `npx delivery drift [--env <stage>]`: per environment, what git renders (this checkout, its image
 * tag), what S3 holds (the copy breakglass changes and the pipeline stores on every deploy) and
 * what the cluster runs, compared by object and field. The cluster side is kubectl's own
 * comparison: `kubectl apply --dry-run=server -o json` gives each object as the API server would
 * make it from the manifest (defaults, the three-way merge with what was applied before), which is
 * compared with the live object; the fields that differ are what applying the manifest would
 * change (what `kubectl diff` shows). docs/decisions/0032-drift-and-the-breakglass-block.md.
 *
 * Exit codes: 0 no difference, 1 a difference (the verdict), 2 usage, 3 could not check, 124
 * timed out, 130/143 interrupted. Every environment is reported; the worst code wins.
 */
const USAGE =
  'Usage: npx delivery drift [--env <stage name>] [-c config=<file> | --config <file>] [--tag <image tag>] [--context <kubectl context>] [--bucket <b>] [--key <k>] [--table <t>] [--timeout <seconds>] [--json]';

export const DRIFT_USAGE = helpText({
  usage: USAGE,
  about: `Compares, per environment, what git renders (this checkout), what S3 holds (the copy breakglass
changes and the pipeline stores on every deploy) and what the cluster runs, by object and field.`,
  options: [
    ['--env <stage name>', 'one environment (default: every environment)'],
    [
      '--tag <image tag>',
      "the image tag git renders (default: the fingerprint of the service's directory)",
    ],
    ['--context <kubectl context>', "kubectl's context (default: the stack's ClusterArn output)"],
    [
      '--bucket, --key, --table <name>',
      "where the manifest and the audit live (default: the stack's outputs)",
    ],
    ['--timeout <seconds>', 'the whole run (default 600)'],
  ],
  config: true,
  json: true,
  verdict: 'git, S3 and the cluster differ somewhere',
  runbook: 'docs/runbooks/breakglass.md',
});

export const EXIT_DIFFERS = 1;
export const EXIT_UNCHECKED = 3;

export interface DriftClients {
  readonly s3: (region: string) => S3Client;
  readonly dynamodb: (region: string) => DynamoDBClient;
  readonly sts: (region: string) => STSClient;
  readonly cloudFormation: (region: string) => CloudFormationClient;
}

/** Runs kubectl with these arguments and returns its stdout, or throws with its stderr. */
export type KubectlCapture = (
  args: readonly string[],
  signal: AbortSignal,
) => Promise<{ code: number; stdout: string; stderr: string }>;

export interface DriftDeps {
  readonly clients: DriftClients;
  readonly kubectl: KubectlCapture;
  readonly output: Output;
  readonly cwd: string;
  readonly repoRoot: string;
  readonly signals?: SignalSource;
  /** @default 20000 */
  readonly callTimeoutMs?: number;
}

const MAX_KUBECTL_OUTPUT = 32 * 1024 * 1024;

/** kubectl on PATH, no shell, stdin closed, output bounded; the signal stops it. */
export function execKubectl(env: NodeJS.ProcessEnv = process.env): KubectlCapture {
  return (args, signal) =>
    new Promise((resolve) => {
      execFile(
        'kubectl',
        [...args],
        { env, signal, maxBuffer: MAX_KUBECTL_OUTPUT, encoding: 'utf8' },
        (error, stdout, stderr) => {
          const e = error as (NodeJS.ErrnoException & { code?: number | string }) | null;
          if (e && e.code === 'ENOENT')
            return resolve({
              code: 127,
              stdout: '',
              stderr: 'kubectl not found on PATH (https://kubernetes.io/docs/tasks/tools/)',
            });
          resolve({
            code: e ? (typeof e.code === 'number' ? e.code : 1) : 0,
            stdout,
            stderr: stderr || (e?.message ?? ''),
          });
        },
      );
    });
}

/** Fields the API server owns or kubectl writes for itself: never drift. */
const SERVER_ANNOTATIONS = [
  'kubectl.kubernetes.io/last-applied-configuration',
  'deployment.kubernetes.io/revision',
];

function normalizeLive(o: K8sObject): K8sObject {
  const copy = withoutPruneLabel(o);
  delete copy.status;
  const m = (copy.metadata ?? {}) as Record<string, unknown>;
  for (const k of ['resourceVersion', 'generation', 'managedFields', 'uid', 'creationTimestamp'])
    delete m[k];
  const annotations = m.annotations as Record<string, unknown> | undefined;
  if (annotations) {
    for (const a of SERVER_ANNOTATIONS) delete annotations[a];
    if (Object.keys(annotations).length === 0) delete m.annotations;
  }
  return copy;
}

function itemsOf(json: string): K8sObject[] {
  const parsed = JSON.parse(json) as K8sObject & { items?: K8sObject[] };
  return parsed.kind === 'List' ? (parsed.items ?? []) : [parsed];
}

/** A side of the comparison that could not be read: the environment is "could not check". */
class Unchecked extends Error {}

/**
 * The cluster against a manifest, as `kubectl diff` compares: the API server's dry-run apply of
 * the manifest (each object as it would become) against each live object (absent: not found).
 */
async function clusterDifferences(
  manifest: K8sObject[],
  context: string,
  deps: DriftDeps,
  control: RunControl,
  dir: string,
  name: string,
): Promise<ObjectDifference[]> {
  const file = path.join(dir, `${name}.json`);
  fs.writeFileSync(file, manifest.map((o) => JSON.stringify(o)).join('\n'), { mode: 0o600 });
  const kubectl = (args: string[], doing: string) =>
    control.call(doing, (signal) => deps.kubectl(['--context', context, ...args], signal), {
      timeoutMs: Math.max(1000, Math.min(control.remainingMs(), 120000)),
    });
  const planned = await kubectl(
    ['apply', '--dry-run=server', '-o', 'json', '-f', file],
    `asking the API server what applying ${name} would make (kubectl apply --dry-run=server)`,
  );
  if (planned.code !== 0)
    throw new Unchecked(
      `kubectl apply --dry-run=server of ${name} failed (exit ${planned.code}): ${safeForTerminal(planned.stderr.trim().split('\n')[0] ?? '')}`,
    );
  const want = itemsOf(planned.stdout).map(normalizeLive);
  const got = await kubectl(
    ['get', '-f', file, '-o', 'json', '--ignore-not-found'],
    `reading ${name}'s objects from the cluster (kubectl get)`,
  );
  if (got.code !== 0)
    throw new Unchecked(
      `kubectl get -f of ${name} failed (exit ${got.code}): ${safeForTerminal(got.stderr.trim().split('\n')[0] ?? '')}`,
    );
  const live = got.stdout.trim() === '' ? [] : itemsOf(got.stdout).map(normalizeLive);
  // Left: what the manifest would make; right: what runs.
  return diffObjectSets(want, live)
    .map((d) => ({
      ...d,
      fields: d.fields.filter((f) => !f.path.includes(CDK_PRUNE_LABEL_PREFIX)),
    }))
    .filter((d) => d.change !== 'fields' || d.fields.length > 0);
}

function report(
  out: Output,
  title: string,
  left: string,
  right: string,
  diffs: readonly ObjectDifference[],
): void {
  if (diffs.length === 0) {
    out.out(`  ${title}: no difference`);
    return;
  }
  out.out(`  ${title}: ${diffs.length} object${diffs.length === 1 ? ' differs' : 's differ'}`);
  for (const d of diffs) {
    if (d.change === 'missing-left') out.out(`    ${d.object}: only in ${right}`);
    else if (d.change === 'missing-right') out.out(`    ${d.object}: only in ${left}`);
    else {
      out.out(`    ${d.object}`);
      for (const f of d.fields)
        out.out(`      ${f.path}: ${left} ${showValue(f.left)} | ${right} ${showValue(f.right)}`);
    }
  }
}

async function readStored(
  s3: S3Client,
  t: Targets,
  control: RunControl,
): Promise<{ text: string; versionId: string; breakglassRun?: string }> {
  const where = `s3://${t.bucket}/${t.key}`;
  try {
    return await control.call(`reading ${where}`, async (abortSignal) => {
      const res = await s3.send(new GetObjectCommand({ Bucket: t.bucket, Key: t.key }), {
        abortSignal,
      });
      if ((res.ContentLength ?? 0) > 1024 * 1024)
        throw new Unchecked(`${where} is ${res.ContentLength} bytes: not a manifest`);
      return {
        text: (await res.Body?.transformToString('utf8')) ?? '',
        versionId: res.VersionId ?? 'null',
        breakglassRun: res.Metadata?.[BREAKGLASS_RUN_METADATA],
      };
    });
  } catch (e) {
    if (isStop(e) || e instanceof Unchecked) throw e;
    throw new Unchecked(describeAwsError(e, `reading ${where}`));
  }
}

async function driftOf(
  env: EnvironmentConfig,
  config: DeliveryConfig,
  tag: string,
  overrides: Partial<Targets>,
  deps: DriftDeps,
  control: RunControl,
  dir: string,
): Promise<number> {
  const out = deps.output;
  out.out(`drift: ${env.stageName} (account ${env.account}, ${env.region})`);
  try {
    const identity = await control
      .call('identifying you (STS GetCallerIdentity)', (abortSignal) =>
        deps.clients.sts(env.region).send(new GetCallerIdentityCommand({}), { abortSignal }),
      )
      .catch((e: unknown) => {
        if (isStop(e)) throw e;
        throw new Unchecked(describeAwsError(e, 'identifying you (STS GetCallerIdentity)'));
      });
    if (identity.Account !== env.account)
      throw new Unchecked(
        `your credentials are for account ${identity.Account ?? 'unknown'}, ${env.stageName} is in ${env.account}: assume its operator role and run again with --env ${env.stageName}`,
      );
    let targets: Targets;
    try {
      ({ targets } = await discoverTargets(
        env,
        overrides,
        () => deps.clients.cloudFormation(env.region),
        control,
      ));
    } catch (e) {
      if (isStop(e)) throw e;
      throw new Unchecked((e as Error).message);
    }
    const stored = await readStored(deps.clients.s3(env.region), targets, control);
    const git = parseObjects(renderEnvironmentYaml(config, env, tag), 'git');
    const s3 = parseObjects(stored.text, `s3://${targets.bucket}/${targets.key}`);
    out.out(`  git:     this checkout, image tag ${tag}`);
    out.out(
      `  S3:      s3://${targets.bucket}/${targets.key} version ${stored.versionId}${stored.breakglassRun ? ` (written by breakglass run ${stored.breakglassRun})` : ''}`,
    );
    out.out(`  cluster: kubectl --context ${targets.context}`);

    // The pipeline applies git's objects with the CDK's prune label (the stack's manifest): so
    // does the comparison, so that the label is never a difference.
    const label = pruneLabelOf(s3);
    const gitAsApplied = label
      ? git.map((o) => {
          const c = JSON.parse(JSON.stringify(o)) as K8sObject;
          const m = (c.metadata ??= {}) as Record<string, unknown>;
          m.labels = { [label]: '', ...(m.labels ?? {}) };
          return c;
        })
      : git;
    const gitS3 = diffObjectSets(git, s3);
    const s3Cluster = await clusterDifferences(
      s3,
      targets.context,
      deps,
      control,
      dir,
      `${env.stageName}-s3`,
    );
    const gitCluster = await clusterDifferences(
      gitAsApplied,
      targets.context,
      deps,
      control,
      dir,
      `${env.stageName}-git`,
    );
    report(out, 'git vs S3', 'git', 'S3', gitS3);
    report(out, 'S3 vs cluster', 'S3', 'cluster', s3Cluster);
    report(out, 'git vs cluster', 'git', 'cluster', gitCluster);

    try {
      const records = await queryRecords(
        deps.clients.dynamodb(env.region),
        targets.table,
        env.stageName,
        control,
      );
      const outstanding = outstandingChanges(records, {
        versionId: stored.versionId,
        breakglassRun: stored.breakglassRun,
      });
      for (const r of outstanding)
        out.out(
          `  breakglass: ${safeForTerminal(describeRecord(r))} is outstanding: the next deploy of ${env.stageName} is blocked until git carries it or \`npx delivery breakglass --env ${env.stageName} --reconcile ${r.runId} --reason "..."\``,
        );
    } catch (e) {
      if (isStop(e)) throw e;
      out.err(`  WARNING: ${(e as Error).message} (the comparison above stands)`);
    }

    const differs = gitS3.length + s3Cluster.length + gitCluster.length > 0;
    out.out(
      `drift: ${env.stageName} ${differs ? 'DIFFERS' : 'in sync: git, S3 and the cluster agree'}`,
    );
    return differs ? EXIT_DIFFERS : EXIT_OK;
  } catch (e) {
    if (isStop(e)) throw e;
    if (e instanceof Unchecked || e instanceof OperationError) {
      out.err(`drift: ${env.stageName} could not check: ${e.message}`);
      return EXIT_UNCHECKED;
    }
    throw e;
  }
}

export async function driftMain(argv: readonly string[], deps: DriftDeps): Promise<number> {
  const output = deps.output;
  const flags = parseFlags(
    argv,
    {
      env: { type: 'string' },
      config: { type: 'string' },
      tag: { type: 'string' },
      context: { type: 'string' },
      bucket: { type: 'string' },
      key: { type: 'string' },
      table: { type: 'string' },
      timeout: { type: 'string' },
      json: { type: 'boolean' },
    },
    USAGE,
  );
  if (flags.help) {
    deps.output.out(DRIFT_USAGE);
    return EXIT_OK;
  }
  // --json: the result is one JSON document on stdout; the comparison goes to stderr
  const json = flags.json === true;
  deps = { ...deps, output: progressOutput(deps.output, json) };
  const out = deps.output;
  const cfg = loadToolConfig(flags.config, deps.cwd, deps.repoRoot);
  let envs: EnvironmentConfig[];
  if (flags.env !== undefined) {
    try {
      envs = [findEnvironment(cfg, flags.env)];
    } catch (e) {
      throw new UsageError(`--env: ${(e as Error).message}`);
    }
  } else envs = allEnvironments(cfg);
  const overrides: Partial<Record<keyof Targets, string>> = {};
  for (const name of ['bucket', 'key', 'table', 'context'] as const) {
    const v = flags[name];
    if (v === undefined) continue;
    if (v.trim() === '') throw new UsageError(`--${name} must not be empty`);
    if (envs.length > 1)
      throw new UsageError(`--${name} names one environment's ${name}: give --env too`);
    overrides[name] = v;
  }
  if (flags.tag !== undefined && !/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/.test(flags.tag))
    throw new UsageError(`--tag ${JSON.stringify(safeForTerminal(flags.tag))} is not an image tag`);
  const tag = flags.tag ?? imageTagFor(path.join(deps.repoRoot, cfg.service.appDir));
  const timeoutSeconds = parseTimeoutSeconds('--timeout', flags.timeout, 600, 10, 86400);
  const control = new RunControl({
    timeoutMs: timeoutSeconds * 1000,
    callTimeoutMs: deps.callTimeoutMs ?? 20000,
  });
  const stop = deps.signals?.((signal) => control.interrupt(signal));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'drift-'));
  try {
    let exit = EXIT_OK;
    const results: Array<{ environment: string; exitCode: number }> = [];
    for (const env of envs) {
      const code = await driftOf(env, cfg, tag, overrides, deps, control, dir);
      results.push({ environment: env.stageName, exitCode: code });
      exit = Math.max(exit, code);
    }
    if (envs.length > 1)
      out.out(
        `drift: ${exit === EXIT_OK ? 'no difference' : exit === EXIT_DIFFERS ? 'differences found' : 'some environments could not be checked'} (${envs.length} environments)`,
      );
    if (json)
      printJson(output, 'drift', exit, {
        tag,
        environments: results.map((r) => ({
          ...r,
          result:
            r.exitCode === EXIT_OK
              ? 'NO_DIFFERENCE'
              : r.exitCode === EXIT_DIFFERS
                ? 'DIFFERS'
                : 'COULD_NOT_CHECK',
        })),
      });
    return exit;
  } finally {
    stop?.();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
