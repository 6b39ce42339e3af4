import { Writable } from 'node:stream';
import { isDeepStrictEqual } from 'node:util';
import {
  ResourceImpact,
  type ResourceDifference,
  type TemplateDiff,
  formatDifferences,
  fullDiff,
} from '@aws-cdk/cloudformation-diff';
import {
  CHANGE_REPORT_FINDINGS,
  type ChangeReportFinding,
} from '../../../lib/config/change-report';
import type { AssemblyStack, Template, TemplateResource } from './assembly';
import { statusWarning, trafficImpact } from './traffic';

/**
 * The infrastructure change one deployment would make, per stack, computed with the CDK's own
 * diff library (`@aws-cdk/cloudformation-diff`, what `cdk diff` prints): the deployed template
 * against the synthesized one. The library decides which property changes replace a resource
 * (from AWS's resource specification) and which IAM and security-group changes broaden access;
 * this module adds KMS and EKS access changes, what a replacement means for traffic, and counts.
 */

/** What the pipeline found deployed for a stack. */
export type DeployedState =
  /** No such stack (or one that never left REVIEW_IN_PROGRESS): the deploy creates everything. */
  | { readonly kind: 'absent' }
  | { readonly kind: 'deployed'; readonly template: Template; readonly status: string }
  /** The account could not be read: nothing is known, which is never "no change". */
  | { readonly kind: 'unreadable'; readonly reason: string };

/** What can make a promotion block (config `prod.changeReport.blockOn`, lib/config/change-report.ts). */
export const FINDINGS = CHANGE_REPORT_FINDINGS;
export type Finding = ChangeReportFinding;

export type Change = 'add' | 'modify' | 'replace' | 'may-replace' | 'remove' | 'orphan' | 'import';

export interface ResourceChange {
  readonly logicalId: string;
  /** Construct path (aws:cdk:path metadata) when the template has it, else the logical id. */
  readonly path: string;
  readonly type: string;
  readonly change: Change;
  /** The properties that change; for a replacement, those that force it first. */
  readonly properties: readonly string[];
  /** For a replacement or removal of a resource the service runs on: what it means for traffic. */
  readonly traffic?: string;
}

/** The release itself: the new image, and the resources that change only because of it. */
export interface ReleaseChange {
  readonly from: string;
  readonly to: string;
  /** Resources whose only change is the image tag (the workload's manifests, the breakglass copy, outputs). */
  readonly resources: readonly string[];
}

export interface StackReport {
  readonly wave: number;
  readonly stage: string;
  readonly stackName: string;
  readonly account: string;
  readonly region: string;
  readonly state: 'new' | 'changed' | 'unchanged' | 'unchecked';
  /** The deployed stack's status, when one was read. */
  readonly status?: string;
  /** Why the stack could not be checked. */
  readonly reason?: string;
  /** Said loudly: a stack status the deploy will trip over. */
  readonly warnings: readonly string[];
  readonly counts: {
    readonly added: number;
    readonly modified: number;
    readonly replaced: number;
    readonly removed: number;
  };
  /** The infrastructure changes: everything except what changes only because of the new image. */
  readonly resources: readonly ResourceChange[];
  /** The new image, when the stack's image output says the release changes it. */
  readonly release?: ReleaseChange;
  /** Tables of the IAM changes (first row is the header), as `cdk diff` summarizes them. */
  readonly iam: { readonly statements: string[][]; readonly managedPolicies: string[][] };
  readonly securityGroups: string[][];
  readonly kms: readonly string[];
  /** Kubernetes permissions granted through EKS (access entries, pod identities). */
  readonly eksAccess: readonly string[];
  readonly permissionsBroadened: boolean;
  readonly findings: readonly Finding[];
  /** The change as `cdk diff` prints it (plain text). */
  readonly cdkDiff: string;
}

const IMPACT: Partial<Record<ResourceImpact, Change>> = {
  [ResourceImpact.WILL_CREATE]: 'add',
  [ResourceImpact.WILL_UPDATE]: 'modify',
  [ResourceImpact.WILL_REPLACE]: 'replace',
  [ResourceImpact.MAY_REPLACE]: 'may-replace',
  [ResourceImpact.WILL_DESTROY]: 'remove',
  [ResourceImpact.WILL_ORPHAN]: 'orphan',
  [ResourceImpact.WILL_IMPORT]: 'import',
};

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;]*m/g;
export const plain = (text: string): string => text.replace(ANSI, '');
const plainTable = (rows: string[][]): string[][] => rows.map((r) => r.map(plain));

function cdkPath(resource: TemplateResource | undefined): string | undefined {
  const p = resource?.Metadata?.['aws:cdk:path'];
  return typeof p === 'string' ? p : undefined;
}

/** `<App>Pipeline/prod-eu-west-1/<App>/Eks/Cluster/Resource` → `Eks/Cluster/Resource` (the stack's own part). */
function shortPath(full: string | undefined, displayName: string): string | undefined {
  if (full === undefined) return undefined;
  return full.startsWith(`${displayName}/`) ? full.slice(displayName.length + 1) : full;
}

function logicalToPath(templates: readonly (Template | undefined)[]): Record<string, string> {
  const map: Record<string, string> = {};
  for (const t of templates)
    for (const [id, r] of Object.entries(t?.Resources ?? {})) {
      const p = cdkPath(r);
      if (p) map[id] = p;
    }
  return map;
}

function renderCdkDiff(diff: TemplateDiff, paths: Record<string, string>): string {
  let text = '';
  const sink = new Writable({
    write(chunk: Buffer | string, _enc, done) {
      text += chunk.toString();
      done();
    },
  });
  formatDifferences(sink, diff, paths);
  return plain(text).trimEnd();
}

/**
 * A property that says how something is encrypted at rest: `KmsKeyId`, `BucketEncryption`,
 * `EncryptionConfig`, and the server-side encryption settings spelt `SSE` (DynamoDB's
 * `SSESpecification`, SQS's `SqsManagedSseEnabled`). `Sse` only as a word of its own, so that
 * `Assessment…` is not one.
 */
const isKmsProperty = (name: string): boolean =>
  /kms|encrypt/i.test(name) || /(^SSE|Sse[A-Z]|Sse$)/.test(name);

/**
 * The paths under a changed property at which an encryption setting changed (a table replica's
 * `SSESpecification` inside `Replicas`, a bucket rule's `KMSMasterKeyID`), as `Replicas[0].SSESpecification`.
 */
function encryptionPaths(before: unknown, after: unknown, at: string, depth = 0): string[] {
  if (isDeepStrictEqual(before, after) || depth > 8) return [];
  const container = (v: unknown): v is Record<string, unknown> =>
    typeof v === 'object' && v !== null;
  if (!container(before) && !container(after)) return [];
  const a = container(before) ? before : {};
  const b = container(after) ? after : {};
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])];
  const list = Array.isArray(a) || Array.isArray(b);
  return keys.flatMap((k) => {
    const here = list ? `${at}[${k}]` : `${at}.${k}`;
    if (isDeepStrictEqual(a[k], b[k])) return [];
    if (!list && isKmsProperty(k)) return [here];
    return encryptionPaths(a[k], b[k], here, depth + 1);
  });
}

function kmsChanges(path: string, r: ResourceDifference): string[] {
  const type = r.newResourceType ?? r.oldResourceType ?? '';
  if (type.startsWith('AWS::KMS::')) {
    const what = r.isAddition ? 'added' : r.isRemoval ? 'removed' : 'changed';
    const props = Object.keys(r.propertyUpdates);
    return [`${type} ${path} ${what}${props.length ? ` (${props.join(', ')})` : ''}`];
  }
  return Object.entries(r.propertyUpdates)
    .flatMap(([p, d]) =>
      isKmsProperty(p) ? [p] : encryptionPaths(d.oldValue as unknown, d.newValue as unknown, p),
    )
    .map((p) => `${type} ${path}: ${p} changes`);
}

const accessPolicies = (r: TemplateResource | undefined): string[] =>
  ((r?.Properties?.AccessPolicies as { PolicyArn?: unknown }[] | undefined) ?? []).map((p) =>
    JSON.stringify(p.PolicyArn),
  );
const groups = (r: TemplateResource | undefined): string[] =>
  ((r?.Properties?.KubernetesGroups as unknown[] | undefined) ?? []).map((g) => JSON.stringify(g));

/**
 * EKS access entries and pod identity associations grant Kubernetes or AWS permissions outside
 * IAM policies, which the CDK's IAM diff does not look at. Broadening: one is added, or an entry
 * gains an access policy or Kubernetes group.
 */
function eksAccessChanges(
  path: string,
  r: ResourceDifference,
): { lines: string[]; broadened: boolean } {
  const type = r.newResourceType ?? r.oldResourceType;
  if (type !== 'AWS::EKS::AccessEntry' && type !== 'AWS::EKS::PodIdentityAssociation')
    return { lines: [], broadened: false };
  const principal = (res: TemplateResource | undefined) =>
    JSON.stringify(res?.Properties?.PrincipalArn ?? res?.Properties?.RoleArn ?? '?');
  if (r.isAddition)
    return {
      lines: [
        `${type} ${path} added: ${principal(r.newValue)} gets ${type === 'AWS::EKS::AccessEntry' ? `access policies ${accessPolicies(r.newValue).join(', ') || 'none'} and groups ${groups(r.newValue).join(', ') || 'none'}` : `the role for service account ${JSON.stringify(r.newValue?.Properties?.ServiceAccount)}`}`,
      ],
      broadened: true,
    };
  if (r.isRemoval)
    return {
      lines: [`${type} ${path} removed: ${principal(r.oldValue)} loses it`],
      broadened: false,
    };
  const gained = [
    ...accessPolicies(r.newValue).filter((p) => !accessPolicies(r.oldValue).includes(p)),
    ...groups(r.newValue).filter((g) => !groups(r.oldValue).includes(g)),
  ];
  return {
    lines: [
      `${type} ${path} changes (${Object.keys(r.propertyUpdates).join(', ')})${gained.length ? `: gains ${gained.join(', ')}` : ''}`,
    ],
    broadened: gained.length > 0 || Object.keys(r.propertyUpdates).includes('PrincipalArn'),
  };
}

export interface StackReportOptions {
  /**
   * The stack output that names the image tag it runs (`ImageTag`). When the deployed and the
   * synthesized tag differ, changes that are only that tag are the release, reported apart from
   * the infrastructure changes (a normal release changes the workload's manifests in every stack).
   */
  readonly imageTagOutput?: string;
}

function outputValue(t: Template, name: string | undefined): string | undefined {
  if (name === undefined) return undefined;
  const v = (t.Outputs as Record<string, { Value?: unknown }> | undefined)?.[name]?.Value;
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/** `t` with every occurrence of the string `to` put back to `from` (a JSON round trip: tags are plain strings). */
function withTag(t: Template, to: string, from: string): Template {
  return JSON.parse(
    JSON.stringify(t)
      .split(JSON.stringify(to).slice(1, -1))
      .join(JSON.stringify(from).slice(1, -1)),
  ) as Template;
}

/** The report of one stack: `deployed` as read from its account, `stack` as synthesized. */
export function stackReport(
  wave: number,
  stack: AssemblyStack,
  deployed: DeployedState,
  options: StackReportOptions = {},
): StackReport {
  const base = {
    wave,
    stage: stack.stage,
    stackName: stack.stackName,
    account: stack.account,
    region: stack.region,
  };
  if (deployed.kind === 'unreadable')
    return {
      ...base,
      state: 'unchecked',
      reason: deployed.reason,
      warnings: [],
      counts: { added: 0, modified: 0, replaced: 0, removed: 0 },
      resources: [],
      iam: { statements: [], managedPolicies: [] },
      securityGroups: [],
      kms: [],
      eksAccess: [],
      permissionsBroadened: false,
      findings: ['unchecked'],
      cdkDiff: '',
    };

  const old: Template = deployed.kind === 'deployed' ? deployed.template : {};
  const diff = fullDiff(old, stack.template);
  const paths = logicalToPath([old, stack.template]);
  // the release: the same diff with the new image tag put back to the deployed one
  const from = outputValue(old, options.imageTagOutput);
  const to = outputValue(stack.template, options.imageTagOutput);
  const infra =
    from !== undefined && to !== undefined && from !== to
      ? fullDiff(old, withTag(stack.template, to, from))
      : undefined;
  const infraDiff = infra ?? diff;
  const releaseOnly: string[] = [];
  const resources: ResourceChange[] = [];
  const kms: string[] = [];
  const eksAccess: string[] = [];
  let eksBroadened = false;
  diff.resources.forEachDifference((logicalId, r) => {
    // The library rates a property change of a custom resource (a type the resource
    // specification does not know) NO_CHANGE although it differs; CloudFormation sends the provider
    // an Update for it (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/crpg-ref-requesttypes-update.html).
    const change = IMPACT[r.changeImpact] ?? (r.isDifferent ? 'modify' : undefined);
    if (change === undefined) return;
    const type = r.newResourceType ?? r.oldResourceType ?? '?';
    const path = shortPath(paths[logicalId], stack.displayName) ?? logicalId;
    if (infra && !(infra.resources.has(logicalId) && infra.resources.get(logicalId).isDifferent)) {
      releaseOnly.push(`${type} ${path}`);
      return;
    }
    const updates = Object.entries(r.propertyUpdates);
    const forcing = updates
      .filter(
        ([, d]) =>
          d.changeImpact === ResourceImpact.WILL_REPLACE ||
          d.changeImpact === ResourceImpact.MAY_REPLACE,
      )
      .map(([name]) => name);
    const properties = [
      ...forcing,
      ...updates.map(([name]) => name).filter((n) => !forcing.includes(n)),
      ...Object.keys(r.otherChanges),
    ];
    const drastic = change === 'replace' || change === 'may-replace' || change === 'remove';
    resources.push({
      logicalId,
      path,
      type,
      change,
      properties,
      traffic: drastic ? trafficImpact(type) : undefined,
    });
    kms.push(...kmsChanges(path, r));
    const access = eksAccessChanges(path, r);
    eksAccess.push(...access.lines);
    eksBroadened ||= access.broadened;
  });

  const count = (...c: Change[]) => resources.filter((r) => c.includes(r.change)).length;
  const counts = {
    added: count('add', 'import'),
    modified: count('modify'),
    replaced: count('replace', 'may-replace'),
    removed: count('remove', 'orphan'),
  };
  // broadening is judged on the infrastructure diff: a new image tag grants nothing
  const permissionsBroadened = infraDiff.permissionsBroadened || eksBroadened;
  const interrupting = resources.some((r) => r.traffic !== undefined);
  const findings: Finding[] = [];
  // a new stack broadens nothing that was running: its first grants are listed, not flagged
  if (permissionsBroadened && deployed.kind === 'deployed') findings.push('permissions-broadening');
  if (counts.replaced + count('remove') > 0) findings.push('replacement');
  if (interrupting) findings.push('interruption');
  const status = deployed.kind === 'deployed' ? deployed.status : undefined;
  const warning = status === undefined ? undefined : statusWarning(status);
  return {
    ...base,
    state:
      deployed.kind === 'absent'
        ? 'new'
        : resources.length > 0 || !infraDiff.isEmpty
          ? 'changed'
          : 'unchanged',
    status,
    release:
      infra && from !== undefined && to !== undefined
        ? { from, to, resources: releaseOnly }
        : undefined,
    warnings: warning ? [warning] : [],
    counts,
    resources,
    iam: {
      statements: infraDiff.iamChanges.hasChanges
        ? plainTable(infraDiff.iamChanges.summarizeStatements())
        : [],
      managedPolicies: infraDiff.iamChanges.hasChanges
        ? plainTable(infraDiff.iamChanges.summarizeManagedPolicies())
        : [],
    },
    securityGroups: infraDiff.securityGroupChanges.hasChanges
      ? plainTable(infraDiff.securityGroupChanges.summarize())
      : [],
    kms,
    eksAccess,
    permissionsBroadened,
    findings,
    cdkDiff: diff.isEmpty ? '' : renderCdkDiff(diff, paths),
  };
}

export interface ChangeReport {
  readonly stacks: readonly StackReport[];
  /** One line for the approval text, at most SUMMARY_MAX characters. */
  readonly summary: string;
  /** Every finding, with the stages it is found in. */
  readonly findings: ReadonlyMap<Finding, readonly string[]>;
}

/** The approval's text names the summary: CodePipeline takes at most 1000 characters per configuration value. */
export const SUMMARY_MAX = 300;

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/**
 * The summary in at most `max` characters, for the approval's text, which shares CodePipeline's
 * 1000 characters with the commit, the pre-prod bake, the rollback targets, the node AMIs and
 * deployment windows: the full line when it fits, else the counts without stage names, else a
 * terse form (the report behind the review link says everything).
 */
export function fitSummary(report: ChangeReport, max: number): string {
  const stacks = report.stacks;
  const has = (f: Finding) => report.findings.has(f);
  const n = (k: keyof StackReport['counts']) => stacks.reduce((t, s) => t + s.counts[k], 0);
  const changing = stacks.filter((s) => s.state === 'new' || s.state === 'changed').length;
  const fresh = stacks.filter((s) => s.state === 'new').length;
  const unchecked = report.findings.get('unchecked')?.length ?? 0;
  const released = stacks.some((s) => s.release);
  const compact = [
    `${changing}/${stacks.length} stacks change${fresh ? ` (${fresh} new)` : ''}`,
    n('replaced') ? `${n('replaced')} REPLACEMENT` : '',
    n('removed') ? `${n('removed')} removed` : '',
    has('interruption') ? 'SERVICE INTERRUPTION' : '',
    has('permissions-broadening') ? 'PERMISSIONS BROADENED' : '',
    unchecked ? `${unchecked} COULD NOT CHECK` : '',
    released ? 'new image' : '',
  ]
    .filter(Boolean)
    .join(', ');
  const terse = [
    `${changing}/${stacks.length} change`,
    n('replaced') ? `REPL ${n('replaced')}` : '',
    has('interruption') ? 'INTERRUPT' : '',
    has('permissions-broadening') ? 'IAM+' : '',
    unchecked ? `UNCHECKED ${unchecked}` : '',
  ]
    .filter(Boolean)
    .join(' ');
  for (const candidate of [report.summary, compact, terse])
    if (candidate.length <= max) return candidate;
  return max <= 1 ? '' : `${terse.slice(0, max - 1)}…`;
}

/** `noun`: what the stacks are called in the summary (the pipeline reports on prod stacks only). */
export function changeReport(stacks: readonly StackReport[], noun = 'prod stack'): ChangeReport {
  const findings = new Map<Finding, string[]>();
  for (const s of stacks)
    for (const f of s.findings)
      findings.set(f, [...(findings.get(f) ?? []), s.stage || s.stackName]);
  return { stacks, summary: summarize(stacks, findings, noun), findings };
}

function summarize(
  stacks: readonly StackReport[],
  findings: Map<Finding, string[]>,
  noun: string,
): string {
  const checked = stacks.filter((s) => s.state !== 'unchecked');
  const changing = checked.filter((s) => s.state === 'new' || s.state === 'changed');
  const fresh = checked.filter((s) => s.state === 'new').length;
  const sum = (k: keyof StackReport['counts']) => stacks.reduce((n, s) => n + s.counts[k], 0);
  const where = (f: Finding) => [...new Set(findings.get(f) ?? [])].join(', ');
  const parts: string[] = [];
  const images = [...new Set(stacks.flatMap((s) => (s.release ? [s.release.to] : [])))];
  const released = images.length > 0;
  const what = released ? 'no infrastructure change' : 'no change';
  if (checked.length === 0) parts.push(`no ${noun} could be checked`);
  else if (changing.length === 0)
    parts.push(
      checked.length === stacks.length
        ? `${what} in ${plural(stacks.length, noun)}`
        : `${what} in the ${plural(checked.length, noun)} checked`,
    );
  else
    parts.push(
      `${changing.length} of ${plural(stacks.length, noun)} change${fresh ? ` (${fresh} new)` : ''}`,
    );
  if (sum('replaced') > 0) parts.push(plural(sum('replaced'), 'REPLACEMENT'));
  if (sum('removed') > 0) parts.push(`${sum('removed')} removed`);
  if (findings.has('interruption')) parts.push(`SERVICE INTERRUPTION in ${where('interruption')}`);
  if (findings.has('permissions-broadening'))
    parts.push(`PERMISSIONS BROADENED in ${where('permissions-broadening')}`);
  if (stacks.some((s) => s.warnings.length > 0))
    parts.push(
      `stack state needs care in ${stacks
        .filter((s) => s.warnings.length > 0)
        .map((s) => s.stage || s.stackName)
        .join(', ')}`,
    );
  if (findings.has('unchecked')) parts.push(`COULD NOT CHECK ${where('unchecked')}`);
  if (released) parts.push(`new image ${images.join(', ')}`);
  const line = parts.join('; ');
  return line.length <= SUMMARY_MAX ? line : `${line.slice(0, SUMMARY_MAX - 22)}… (see the report)`;
}
