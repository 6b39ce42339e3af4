import type { ChangeReport, Finding, ResourceChange, StackReport } from './report';

/**
 * The report as people read it: Markdown (the S3 object the approval links to, the build log,
 * `npm run diff`), and the short message the notification topic gets. Loud things come first and
 * in capitals: replacements, service interruptions, broadened permissions, stacks that could not
 * be checked.
 */

export interface ReportContext {
  /** What the report is of, for the heading (`before prod: <pipeline> execution <id>`). */
  readonly title: string;
  /** Against what the synthesized templates were compared (`deployed stacks, read through ...`). */
  readonly against: string;
  /** The findings that fail the action (config `prod.changeReport.blockOn`). */
  readonly blockOn: readonly Finding[];
}

const CHANGE_WORD: Record<ResourceChange['change'], string> = {
  add: 'add',
  import: 'import',
  modify: 'modify',
  replace: 'REPLACE',
  'may-replace': 'MAY REPLACE',
  remove: 'REMOVE',
  orphan: 'remove from stack (kept: retained)',
};

const FINDING_WORD: Record<Finding, string> = {
  'permissions-broadening': 'PERMISSIONS BROADENED',
  replacement: 'REPLACEMENT',
  interruption: 'SERVICE INTERRUPTION',
  unchecked: 'COULD NOT CHECK',
};

const cell = (text: string): string => text.replace(/\|/g, '\\|').replace(/\s*\n\s*/g, ' ');

function table(rows: readonly (readonly string[])[]): string[] {
  if (rows.length === 0) return [];
  const [head, ...body] = rows;
  return [
    `| ${head.map((h) => cell(h || ' ')).join(' | ')} |`,
    `| ${head.map(() => '---').join(' | ')} |`,
    ...body.map((r) => `| ${r.map(cell).join(' | ')} |`),
  ];
}

const stackTitle = (s: StackReport): string =>
  `${s.stage || s.stackName}: ${s.stackName} (account ${s.account}, ${s.region})`;

/** The heading of a group of stacks: prod waves count from 1; `npm run diff` also shows pre-prod (0) and the pipeline's own stacks (-1). */
export function groupTitle(wave: number): string {
  return wave < 0 ? 'The pipeline' : wave === 0 ? 'Pre-prod' : `Wave ${wave}`;
}

/** The lines that need the approver's eyes, one per replaced/removed resource, broadening, unchecked stack. */
export function attentionLines(report: ChangeReport): string[] {
  const lines: string[] = [];
  for (const s of report.stacks) {
    if (s.state === 'unchecked')
      lines.push(
        `COULD NOT CHECK ${stackTitle(s)}: ${s.reason}. Nothing is known about what deploying changes there; this is not "no change".`,
      );
    for (const w of s.warnings) lines.push(`STACK STATE ${stackTitle(s)}: ${w}`);
    for (const r of s.resources.filter((x) =>
      ['replace', 'may-replace', 'remove'].includes(x.change),
    ))
      lines.push(
        `${CHANGE_WORD[r.change]} ${s.stage || s.stackName}: ${r.type} ${r.path}${r.properties.length ? ` (because ${r.properties.join(', ')} change${r.properties.length === 1 ? 's' : ''})` : ''}.${r.traffic ? ` SERVICE INTERRUPTION: ${r.traffic}.` : ''}`,
      );
    if (s.findings.includes('permissions-broadening'))
      lines.push(
        `PERMISSIONS BROADENED ${stackTitle(s)}: see its IAM${s.eksAccess.length ? ' and EKS access' : ''} changes below.`,
      );
  }
  return lines;
}

function stackSection(s: StackReport): string[] {
  const out = [`### ${stackTitle(s)}`, ''];
  if (s.state === 'unchecked') {
    out.push(
      `**COULD NOT CHECK**: ${s.reason}. Treat this stack's change as unknown, not as no change.`,
      '',
    );
    return out;
  }
  const infra = s.release ? 'infrastructure ' : '';
  const state =
    s.state === 'new'
      ? 'NEW STACK: not deployed yet (first deployment to this region): everything below is created, no traffic runs here yet'
      : s.state === 'unchanged'
        ? `no ${infra}change (now: ${s.status})`
        : `${infra}changes (now: ${s.status})`;
  out.push(`State: ${state}`, '');
  if (s.release)
    out.push(
      `Release: image \`${s.release.from}\` → \`${s.release.to}\`; ${s.release.resources.length} resources change only by it (${s.release.resources.join(', ')}). Not counted below.`,
      '',
    );
  for (const w of s.warnings) out.push(`**STACK STATE**: ${w}`, '');
  if (s.state === 'unchanged') return out;
  out.push(
    ...table([
      ['added', 'modified', 'REPLACED', 'removed'],
      [s.counts.added, s.counts.modified, s.counts.replaced, s.counts.removed].map(String),
    ]),
    '',
  );
  const notable = s.resources.filter((r) => s.state !== 'new' || r.change !== 'add');
  if (notable.length > 0) {
    out.push(
      '#### Resources',
      '',
      ...table([
        ['change', 'type', 'resource', 'properties', 'for running traffic'],
        ...notable.map((r) => [
          CHANGE_WORD[r.change],
          r.type,
          r.path,
          r.properties.join(', '),
          r.traffic ? `SERVICE INTERRUPTION: ${r.traffic}` : '',
        ]),
      ]),
      '',
    );
  } else if (s.state === 'new') {
    out.push(`${s.resources.length} resources are created.`, '');
  }
  const section = (title: string, lines: string[]) => {
    if (lines.length > 0) out.push(`#### ${title}`, '', ...lines, '');
  };
  section(`IAM${s.findings.includes('permissions-broadening') ? ': PERMISSIONS BROADENED' : ''}`, [
    ...table(s.iam.statements),
    ...(s.iam.statements.length && s.iam.managedPolicies.length ? [''] : []),
    ...table(s.iam.managedPolicies),
  ]);
  section(
    'EKS access (Kubernetes and pod permissions)',
    s.eksAccess.map((l) => `- ${l}`),
  );
  section('Security groups', table(s.securityGroups));
  section(
    'KMS',
    s.kms.map((l) => `- ${l}`),
  );
  if (s.cdkDiff)
    out.push(
      '<details><summary>cdk diff</summary>',
      '',
      '```',
      s.cdkDiff,
      '```',
      '',
      '</details>',
      '',
    );
  return out;
}

export function renderMarkdown(report: ChangeReport, ctx: ReportContext): string {
  const attention = attentionLines(report);
  const blocking = ctx.blockOn.filter((f) => report.findings.has(f));
  const out = [
    `# Infrastructure change ${ctx.title}`,
    '',
    `Compared: the synthesized templates with the ${ctx.against}.`,
    '',
    `**Summary**: ${report.summary}`,
    '',
  ];
  if (blocking.length > 0)
    out.push(
      `**BLOCKED**: this promotion fails because the config blocks on ${blocking.map((f) => FINDING_WORD[f]).join(', ')} (prod.changeReport.blockOn; docs/runbooks/promoting-to-prod.md says how to let an intended change through).`,
      '',
    );
  if (attention.length > 0)
    out.push('## Needs your attention', '', ...attention.map((l) => `- ${l}`), '');
  const waves = [...new Set(report.stacks.map((s) => s.wave))].sort((a, b) => a - b);
  for (const w of waves) {
    out.push(`## ${groupTitle(w)}`, '');
    for (const s of report.stacks.filter((x) => x.wave === w)) out.push(...stackSection(s));
  }
  return `${out.join('\n').trimEnd()}\n`;
}

/** The message for the notification topic: the summary, the loud lines, where the report is. */
export function notificationText(report: ChangeReport, title: string, url?: string): string {
  return [
    `${title}: ${report.summary}`,
    '',
    ...attentionLines(report).map((l) => `- ${l}`),
    '',
    url ? `Report: ${url}` : '',
    'How to read it: docs/runbooks/promoting-to-prod.md',
  ]
    .join('\n')
    .trim();
}

/** Whether the report is loud enough to notify about (anything an approver must not miss). */
export function needsAttention(report: ChangeReport): boolean {
  return report.findings.size > 0 || report.stacks.some((s) => s.warnings.length > 0);
}
