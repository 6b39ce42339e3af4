import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import {
  type EnvironmentConfig,
  KUBERNETES_VERSIONS,
  type SupportedKubernetesVersion,
  allEnvironments,
} from '../../../lib/config';
import { printJson, progressOutput } from '../../common/command';
import { REPO_ROOT, chooseToolConfig, invocationDir } from '../../common/config';
import {
  EXIT_COULD_NOT_CHECK,
  EXIT_FAILED,
  EXIT_OK,
  awsErrorName,
  describeAwsError,
} from '../../common/errors';
import type { Output } from '../../common/output';
import { safeForTerminal, shownValue } from '../../common/terminal';
import { NODE_UPDATES_USAGE, parseNodeUpdatesArgs } from './args';
import {
  type ReleaseStatus,
  type ReleaseVersion,
  ageInDays,
  compareReleases,
  parseReleaseVersion,
  releaseStatus,
  releaseToPin,
} from './releases';

/**
 * `npx delivery node-updates`: is each environment's node AMI the release AWS recommends today?
 * Reads the public Systems Manager parameters EKS publishes per Kubernetes version, AMI family,
 * architecture and region:
 *   /aws/service/eks/optimized-ami/<k8s>/amazon-linux-2023/<arm64|x86_64>/standard/recommended/release_version
 * https://docs.aws.amazon.com/eks/latest/userguide/retrieve-ami-id.html (the same paths
 * terraform-aws-modules/terraform-aws-eks maps AL2023_ARM_64_STANDARD / AL2023_x86_64_STANDARD to,
 * modules/eks-managed-node-group/main.tf). Readable with ssm:GetParameter from any account.
 */

export const PUBLIC_PARAMETER_PREFIX = '/aws/service/eks/optimized-ami';
const CATALOG_FILE = 'lib/config/kubernetes-versions.ts';

export interface NodeUpdatesDeps {
  /** An SSM client for a region. */
  readonly ssm: (region: string) => SSMClient;
  /** Milliseconds, like Date.now. */
  readonly now: () => number;
  readonly output: Output;
  /** Directory that a relative config path is relative to. */
  readonly cwd: string;
  /** The repository root (a config file must be inside it). @default cwd */
  readonly repoRoot?: string;
  /** Longest wait for one GetParameter call; the SDK sets no limit of its own. @default 20000 */
  readonly callTimeoutMs?: number;
  /** Where the parameters live. Only tests change it: moto refuses to store names under /aws. @default PUBLIC_PARAMETER_PREFIX */
  readonly parameterPrefix?: string;
}

export function defaultNodeUpdatesDeps(output: Output): NodeUpdatesDeps {
  return {
    ssm: (region) => new SSMClient({ region }),
    now: () => Date.now(),
    output,
    cwd: invocationDir(),
    repoRoot: REPO_ROOT,
  };
}

/** `arm64` | `amd64` (the image's architecture, which the node instance types match) → the parameter path's name. */
function amiArchitecture(architecture: 'arm64' | 'amd64'): 'arm64' | 'x86_64' {
  return architecture === 'arm64' ? 'arm64' : 'x86_64';
}

export function releaseParameterName(
  prefix: string,
  kubernetesVersion: string,
  architecture: 'arm64' | 'amd64',
): string {
  return `${prefix}/${kubernetesVersion}/amazon-linux-2023/${amiArchitecture(architecture)}/standard/recommended/release_version`;
}

/** What AWS recommends in one region for one parameter, or why it is not known. */
type Lookup =
  | { readonly ok: true; readonly latest: ReleaseVersion; readonly publishedAt?: Date }
  | { readonly ok: false; readonly reason: string };

interface Row {
  readonly env: EnvironmentConfig;
  readonly kubernetesVersion: SupportedKubernetesVersion;
  readonly current: ReleaseVersion;
  readonly lookup: Lookup;
  readonly status?: ReleaseStatus;
}

/** Rejects when `promise` has not settled within `ms` (and aborts the call), so one hung region cannot hang the tool. */
async function withTimeout<T>(run: (signal: AbortSignal) => Promise<T>, ms: number): Promise<T> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort();
      reject(new Error(`no answer within ${Math.round(ms / 1000)} s`));
    }, ms);
  });
  try {
    return await Promise.race([run(controller.signal), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function lookUp(
  deps: NodeUpdatesDeps,
  region: string,
  name: string,
  kubernetesVersion: string,
): Promise<Lookup> {
  try {
    const out = await withTimeout(
      (abortSignal) =>
        deps.ssm(region).send(new GetParameterCommand({ Name: name }), { abortSignal }),
      deps.callTimeoutMs ?? 20_000,
    );
    const value = out.Parameter?.Value ?? '';
    const latest = parseReleaseVersion(value);
    if (!latest)
      return {
        ok: false,
        // A value from AWS: shown cut and escaped (a 1 MB value must not become 1 MB of output).
        reason: `${name} in ${region} holds ${shownValue(value, 60)}, not a release version such as "${kubernetesVersion}.0-20260101"`,
      };
    if (latest.minor !== kubernetesVersion)
      return {
        ok: false,
        reason: `${name} in ${region} names release ${latest.text}, not one of Kubernetes ${kubernetesVersion}`,
      };
    return { ok: true, latest, publishedAt: out.Parameter?.LastModifiedDate };
  } catch (e) {
    if (awsErrorName(e) === 'ParameterNotFound') {
      return {
        ok: false,
        reason: `${name} does not exist in ${region}: EKS publishes no such AMI there (is Kubernetes ${kubernetesVersion} still supported by EKS in ${region}?)`,
      };
    }
    return { ok: false, reason: describeAwsError(e, `GetParameter ${name} in ${region}`) };
  }
}

function pad(text: string, width: number): string {
  return text.length >= width ? `${text} ` : text + ' '.repeat(width - text.length);
}

/**
 * Returns the exit code: 0 all current or within the limit, 1 stale (or pinned ahead of a
 * region), 3 could not check. Throws UsageError for a bad command line or config (exit 2).
 */
export async function nodeUpdatesMain(
  argv: readonly string[],
  deps: NodeUpdatesDeps,
): Promise<number> {
  const args = parseNodeUpdatesArgs(argv);
  if (args.kind === 'help') {
    deps.output.out(NODE_UPDATES_USAGE);
    return EXIT_OK;
  }
  // --json: the report is one JSON document on stdout; these lines go to stderr.
  const out = progressOutput(deps.output, args.json);
  const { config: cfg, described } = chooseToolConfig(args.configFile, deps.cwd, deps.repoRoot);
  out.out(`Configuration: ${described}`);
  const prefix = deps.parameterPrefix ?? PUBLIC_PARAMETER_PREFIX;
  const architecture = cfg.image.architecture;
  const envs = allEnvironments(cfg);

  // One call per region and parameter, however many environments share them.
  const lookups = new Map<string, Promise<Lookup>>();
  for (const env of envs) {
    const name = releaseParameterName(prefix, env.kubernetesVersion, architecture);
    const key = `${env.region} ${name}`;
    if (!lookups.has(key)) lookups.set(key, lookUp(deps, env.region, name, env.kubernetesVersion));
  }
  const regions = new Set(envs.map((e) => e.region));
  out.out(
    `Reading ${lookups.size} public SSM parameter${lookups.size === 1 ? '' : 's'} in ${regions.size} region${regions.size === 1 ? '' : 's'} (EKS-optimized Amazon Linux 2023, ${amiArchitecture(architecture)}); stale means older than ${args.maxAgeDays} days with a newer release out.`,
  );

  const now = deps.now();
  const rows: Row[] = [];
  for (const env of envs) {
    const pinned = KUBERNETES_VERSIONS[env.kubernetesVersion].nodeAmiReleaseVersion;
    const current = parseReleaseVersion(pinned);
    if (!current)
      throw new Error(
        `${CATALOG_FILE}: nodeAmiReleaseVersion "${pinned}" of ${env.kubernetesVersion} is not a release version such as "${env.kubernetesVersion}.0-20260101"`,
      );
    const lookup = await (lookups.get(
      `${env.region} ${releaseParameterName(prefix, env.kubernetesVersion, architecture)}`,
    ) as Promise<Lookup>);
    rows.push({
      env,
      kubernetesVersion: env.kubernetesVersion,
      current,
      lookup,
      status: lookup.ok ? releaseStatus(current, lookup.latest, now, args.maxAgeDays) : undefined,
    });
  }

  out.out('');
  out.out(
    pad('environment', 24) +
      pad('region', 16) +
      pad('k8s', 6) +
      pad('current (age)', 26) +
      pad('latest (published here)', 34) +
      'status',
  );
  for (const r of rows) {
    const current = `${r.current.text} (${ageInDays(r.current, now)} d)`;
    const latest = r.lookup.ok
      ? `${r.lookup.latest.text} (${r.lookup.publishedAt ? r.lookup.publishedAt.toISOString().slice(0, 10) : 'date unknown'})`
      : '?';
    out.out(
      pad(r.env.stageName, 24) +
        pad(r.env.region, 16) +
        pad(r.kubernetesVersion, 6) +
        pad(current, 26) +
        pad(latest, 34) +
        (r.status ?? 'NOT CHECKED'),
    );
  }

  const failed = rows.filter(
    (r): r is Row & { lookup: { ok: false; reason: string } } => !r.lookup.ok,
  );
  for (const r of failed) out.err(`  ${r.env.stageName}: ${safeForTerminal(r.lookup.reason)}`);
  for (const r of rows.filter((x) => x.status === 'AHEAD')) {
    const latest = (r.lookup as { latest: ReleaseVersion }).latest;
    out.err(
      `  ${r.env.stageName}: ${r.env.region} recommends ${latest.text}, older than the pinned ${r.current.text}; EKS may refuse the pinned release there until it reaches ${r.env.region}`,
    );
  }

  // The catalog change, per Kubernetes version: the oldest of the releases the regions recommend,
  // so that the pinned release exists everywhere it is deployed.
  const changes: Array<{ kubernetesVersion: string; from: string; to: string }> = [];
  for (const version of [...new Set(rows.map((r) => r.kubernetesVersion))]) {
    const ofVersion = rows.filter((r) => r.kubernetesVersion === version);
    const pinned = ofVersion[0].current;
    const target = releaseToPin(ofVersion.flatMap((r) => (r.lookup.ok ? [r.lookup.latest] : [])));
    if (!target || compareReleases(target, pinned) <= 0) continue;
    changes.push({ kubernetesVersion: version, from: pinned.text, to: target.text });
    out.out('');
    out.out(`Catalog change for Kubernetes ${version} (${CATALOG_FILE}, entry '${version}'):`);
    out.out(`-    nodeAmiReleaseVersion: '${pinned.text}',`);
    out.out(`+    nodeAmiReleaseVersion: '${target.text}',`);
    const newer = ofVersion.filter(
      (r) => r.lookup.ok && compareReleases(r.lookup.latest, target) > 0,
    );
    if (newer.length > 0)
      out.out(
        `(${[...new Set(newer.map((r) => r.env.region))].join(', ')} already recommend${newer.length === 1 ? 's' : ''} a newer release; ${target.text} is the newest every region on ${version} recommends.)`,
      );
    const unchecked = ofVersion.filter((r) => !r.lookup.ok);
    if (unchecked.length > 0)
      out.out(
        `(not checked: ${unchecked.map((r) => r.env.stageName).join(', ')}; confirm ${target.text} exists there before pinning it.)`,
      );
    out.out(
      `Commit and push it: the pipeline rolls the node groups on ${version}, one node at a time, pre-prod first (docs/runbooks/patching-nodes.md).`,
    );
  }

  out.out('');
  const stale = rows.filter((r) => r.status === 'STALE');
  const ahead = rows.filter((r) => r.status === 'AHEAD');
  let code: number;
  let summary: string;
  if (failed.length > 0) {
    summary = `ERROR could not check ${failed.map((r) => r.env.stageName).join(', ')}${stale.length > 0 ? `; stale: ${stale.map((r) => r.env.stageName).join(', ')}` : ''}`;
    out.err(`node-updates: ${summary}`);
    code = EXIT_COULD_NOT_CHECK;
  } else if (stale.length > 0 || ahead.length > 0) {
    const parts = [
      stale.length > 0
        ? `${stale.map((r) => r.env.stageName).join(', ')} run${stale.length === 1 ? 's' : ''} a node AMI older than ${args.maxAgeDays} days with a newer release available`
        : '',
      ahead.length > 0
        ? `${ahead.map((r) => r.env.stageName).join(', ')} pin${ahead.length === 1 ? 's' : ''} a release its region does not recommend yet`
        : '',
    ].filter((p) => p !== '');
    summary = `STALE ${parts.join('; ')}`;
    out.err(`node-updates: ${summary}`);
    code = EXIT_FAILED;
  } else {
    const behind = rows.filter((r) => r.status === 'BEHIND');
    summary =
      behind.length > 0
        ? `OK every node AMI is within ${args.maxAgeDays} days; a newer release is out for ${behind.map((r) => r.env.stageName).join(', ')} (change above)`
        : `OK every environment runs the recommended node AMI release`;
    out.out(`node-updates: ${summary}`);
    code = EXIT_OK;
  }
  if (args.json)
    printJson(deps.output, 'node-updates', code, {
      summary,
      maxAgeDays: args.maxAgeDays,
      environments: rows.map((r) => ({
        environment: r.env.stageName,
        region: r.env.region,
        kubernetesVersion: r.kubernetesVersion,
        current: r.current.text,
        currentAgeDays: ageInDays(r.current, now),
        latest: r.lookup.ok ? r.lookup.latest.text : null,
        latestPublishedAt: r.lookup.ok ? (r.lookup.publishedAt?.toISOString() ?? null) : null,
        status: r.status ?? 'NOT_CHECKED',
        problem: r.lookup.ok ? null : r.lookup.reason,
      })),
      catalogChanges: changes,
    });
  return code;
}
