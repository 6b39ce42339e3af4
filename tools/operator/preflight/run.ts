import { type DeliveryConfig, allEnvironments } from '../../../lib/config';
import { EXIT_COULD_NOT_CHECK, EXIT_FAILED, EXIT_OK, describeAwsError } from '../../common/errors';
import type { Output } from '../../common/output';
import {
  type AwsAccess,
  type BoundedCall,
  CallTimeoutError,
  type Target,
  callerIdentity,
  runLimited,
} from './aws';
import {
  type Check,
  type Finding,
  type Status,
  availabilityZonesCheck,
  bootstrapCheck,
  codeBuildConcurrencyCheck,
  inspectorCheck,
  instanceTypeCheck,
  kubernetesVersionCheck,
  networkQuotasCheck,
  registryReplicationCheck,
  registryScanningCheck,
  sourceCheck,
} from './checks';
import { bakeReaderRoleCheck, observabilityAddonCheck } from './bake';
import type { DeploymentNeeds } from './needs';

/** A finding with the account/region it is about. */
export interface Row extends Finding {
  readonly target: string;
}

export const EXIT_PASS = EXIT_OK;
export const EXIT_FAIL = EXIT_FAILED;
export { EXIT_COULD_NOT_CHECK };

const key = (t: Target): string => `${t.account}/${t.region}`;

/** Every check for this configuration, in the order the table shows them. */
export function planChecks(config: DeliveryConfig, needs: DeploymentNeeds): Check[] {
  const pipeline = { account: config.pipeline.account, region: config.pipeline.region };
  const envs = allEnvironments(config);
  const byTarget = new Map<string, typeof envs>();
  for (const e of envs) byTarget.set(key(e), [...(byTarget.get(key(e)) ?? []), e]);
  return [
    ...needs.bootstrapTargets.map((t) => bootstrapCheck(t)),
    ...envs.map((e) => availabilityZonesCheck(e)),
    ...envs.map((e) => instanceTypeCheck(e)),
    ...envs.map((e) => kubernetesVersionCheck(e)),
    ...envs.map((e) => observabilityAddonCheck(e)),
    ...envs.map((e) => bakeReaderRoleCheck(e)),
    ...[...byTarget.values()].map((group) =>
      networkQuotasCheck({ account: group[0].account, region: group[0].region }, group),
    ),
    registryReplicationCheck(pipeline),
    registryScanningCheck(pipeline),
    inspectorCheck(pipeline),
    codeBuildConcurrencyCheck(pipeline),
    sourceCheck(pipeline),
  ];
}

function couldNotCheck(e: unknown, doing: string): string {
  if (e instanceof CallTimeoutError) return `${doing}: ${e.message}`;
  return describeAwsError(e, doing);
}

export interface RunOptions {
  readonly config: DeliveryConfig;
  readonly needs: DeploymentNeeds;
  readonly aws: AwsAccess;
  readonly call: BoundedCall;
  readonly output: Output;
  /** Checks running at the same time. */
  readonly concurrency: number;
  /** Whether a role is assumed per account (changes the advice when credentials are wrong). */
  readonly roleName?: string;
}

/**
 * Confirms the credentials of every account first (one GetCallerIdentity each, in parallel),
 * then runs the checks of the accounts it can reach, at most `concurrency` at a time, printing
 * one progress line per finished check. Never throws for an AWS problem: it becomes an ERROR row.
 */
export async function runPreflight(o: RunOptions): Promise<Row[]> {
  const checks = planChecks(o.config, o.needs);
  const accounts = [
    ...new Set([o.config.pipeline.account, ...checks.map((c) => c.target.account)]),
  ];
  const out = o.output;
  out.out(
    `Preflight: ${checks.length} checks in ${accounts.length} account(s), ${new Set(checks.map((c) => c.target.region)).size} region(s), ${o.concurrency} at a time.`,
  );

  const identityRows = await runLimited(
    accounts.map((account) => async (): Promise<Row> => {
      const t = { account, region: o.config.pipeline.region };
      try {
        const id = await callerIdentity(o.aws, o.call, t);
        if (id.account !== account) {
          const fix = o.roleName
            ? `check that ${o.roleName} exists in ${account}`
            : `pass --role-name <role in every account>, or run with credentials for ${account}`;
          return {
            check: 'credentials',
            target: account,
            status: 'ERROR',
            detail: `the credentials are for account ${id.account} (${id.arn}), not ${account}`,
            fix,
          };
        }
        return { check: 'credentials', target: account, status: 'PASS', detail: id.arn };
      } catch (e) {
        const fix = o.roleName
          ? `allow your identity to assume ${o.roleName} in ${account}`
          : 'set AWS_PROFILE (or run `aws sso login`) for an identity that can read this account, or pass --role-name';
        return {
          check: 'credentials',
          target: account,
          status: 'ERROR',
          detail: couldNotCheck(e, `identifying the caller in ${account}`),
          fix,
        };
      }
    }),
    o.concurrency,
  );
  for (const r of identityRows) out.out(`  ${r.status.padEnd(5)} credentials ${r.target}`);
  const reachable = new Set(identityRows.filter((r) => r.status === 'PASS').map((r) => r.target));

  let done = 0;
  const results = await runLimited(
    checks.map((check) => async (): Promise<Row[]> => {
      const target = key(check.target);
      let findings: Finding[];
      if (!reachable.has(check.target.account)) {
        findings = [
          {
            check: check.name,
            status: 'ERROR',
            detail: `skipped: no usable credentials for ${check.target.account} (see "credentials")`,
          },
        ];
      } else {
        try {
          findings = await check.run({
            config: o.config,
            needs: o.needs,
            aws: o.aws,
            call: o.call,
          });
        } catch (e) {
          findings = [
            {
              check: check.name,
              status: 'ERROR',
              detail: couldNotCheck(e, check.name),
              fix: 'grant read access (see docs/runbooks/first-deployment.md for the permissions), then run the preflight again',
            },
          ];
        }
      }
      done += 1;
      const worst = worstOf(findings.map((f) => f.status));
      out.out(
        `  [${String(done).padStart(String(checks.length).length)}/${checks.length}] ${worst.padEnd(5)} ${check.name} ${target}`,
      );
      return findings.map((f) => ({ ...f, target }));
    }),
    o.concurrency,
  );
  return [...identityRows, ...results.flat()];
}

const SEVERITY: Record<Status, number> = { PASS: 0, WARN: 1, ERROR: 2, FAIL: 3 };

function worstOf(statuses: readonly Status[]): Status {
  return statuses.reduce<Status>((w, s) => (SEVERITY[s] > SEVERITY[w] ? s : w), 'PASS');
}

/** 1 when anything fails (a known blocker), else 3 when anything could not be checked, else 0. */
export function exitCodeOf(rows: readonly Row[]): number {
  if (rows.some((r) => r.status === 'FAIL')) return EXIT_FAIL;
  if (rows.some((r) => r.status === 'ERROR')) return EXIT_COULD_NOT_CHECK;
  return EXIT_PASS;
}

/** The report: one table (check, account/region, status, detail), then the fix of every WARN/FAIL/ERROR, numbered. */
export function formatReport(rows: readonly Row[]): string[] {
  const fixes: string[] = [];
  const body = rows.map((r) => {
    let detail = r.detail;
    if (r.fix && r.status !== 'PASS') {
      fixes.push(r.fix);
      detail += ` [fix ${fixes.length}]`;
    }
    return [r.check, r.target, r.status, detail];
  });
  const header = ['CHECK', 'ACCOUNT/REGION', 'STATUS', 'DETAIL'];
  const widths = [0, 1, 2].map((i) => Math.max(header[i].length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i < 3 ? c.padEnd(widths[i]) : c))
      .join('  ')
      .trimEnd();
  const lines = [
    line(header),
    line(widths.map((w) => '-'.repeat(w)).concat('------')),
    ...body.map(line),
  ];
  if (fixes.length > 0) {
    lines.push('', 'To fix:');
    fixes.forEach((f, i) => lines.push(`  [${i + 1}] ${f}`));
  }
  const count = (s: Status) => rows.filter((r) => r.status === s).length;
  const n = (s: Status, one: string, many: string) => `${count(s)} ${count(s) === 1 ? one : many}`;
  lines.push(
    '',
    `${n('PASS', 'passed', 'passed')}, ${n('WARN', 'warning', 'warnings')}, ${n('FAIL', 'failed', 'failed')}, ${n('ERROR', 'could not be checked', 'could not be checked')}.`,
  );
  return lines;
}
