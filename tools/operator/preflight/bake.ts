import { paginateDescribeAddonVersions } from '@aws-sdk/client-eks';
import { GetRoleCommand, type Role, SimulatePrincipalPolicyCommand } from '@aws-sdk/client-iam';
import type { EnvironmentConfig } from '../../../lib/config';
import { bootstrapRoleName } from '../../../lib/config/bootstrap';
import { KUBERNETES_VERSIONS } from '../../../lib/config/kubernetes-versions';
import { partitionOf } from './aws';
import type { Check, Finding } from './checks';

/**
 * What each environment's bake needs from its account and region before the pipeline is deployed
 * (docs/decisions/0023-bake-alarm-through-bootstrap-lookup-role.md,
 * docs/decisions/0024-bake-owner-rollback-and-limits.md):
 * - the CDK bootstrap lookup role, which the OnSuccess rule names and the bake watch assumes,
 *   exists, trusts the pipeline account, and may read composite alarms (DescribeAlarms on `*`);
 * - EKS offers the CloudWatch Observability add-on at the version the catalog pins, for the
 *   environment's Kubernetes version, in its region (the alarms read what that version publishes).
 */

/** The ARN forms IAM shows for "this account" as a principal (an account id becomes the root ARN). */
function accountPrincipals(account: string, partition: string): string[] {
  return [account, `arn:${partition}:iam::${account}:root`];
}

interface TrustStatement {
  readonly Effect?: string;
  readonly Action?: string | string[];
  readonly Principal?: { AWS?: string | string[] } | string;
  readonly Condition?: Record<string, Record<string, unknown>>;
}

/** The condition the bootstrap template puts on its trust (no external id), which CodePipeline and the CLI satisfy. */
function onlyDeniesExternalId(condition: TrustStatement['Condition']): boolean {
  if (condition === undefined) return true;
  return JSON.stringify(condition) === JSON.stringify({ Null: { 'sts:ExternalId': 'true' } });
}

/** Whether the trust policy lets `account` assume the role, and any condition it puts on it. */
export function trustOf(
  document: string,
  account: string,
  partition: string,
): { trusted: boolean; conditioned: boolean } {
  const policy = JSON.parse(decodeURIComponent(document)) as { Statement?: TrustStatement[] };
  const wanted = accountPrincipals(account, partition);
  const list = (v: string | string[] | undefined) => (v === undefined ? [] : [v].flat());
  const matching = (policy.Statement ?? []).filter(
    (st) =>
      st.Effect === 'Allow' &&
      list(st.Action).some((a) => a === 'sts:AssumeRole' || a === 'sts:*' || a === '*') &&
      typeof st.Principal === 'object' &&
      list(st.Principal.AWS).some((p) => wanted.includes(p)),
  );
  return {
    trusted: matching.length > 0,
    conditioned: matching.length > 0 && !matching.some((st) => onlyDeniesExternalId(st.Condition)),
  };
}

const bootstrapFix = (env: EnvironmentConfig, pipelineAccount: string): string =>
  `npx cdk bootstrap aws://${env.account}/${env.region} --trust ${pipelineAccount} --cloudformation-execution-policies arn:${partitionOf(env.region)}:iam::aws:policy/AdministratorAccess (list every account it already trusts too: --trust replaces the list)`;

export function bakeReaderRoleCheck(env: EnvironmentConfig): Check {
  const target = { account: env.account, region: env.region };
  const name = 'bake reader role';
  return {
    name,
    target,
    async run({ config, aws, call }) {
      const roleName = bootstrapRoleName('lookup', env.account, env.region);
      const partition = partitionOf(env.region);
      const fix = bootstrapFix(env, config.pipeline.account);
      let role: Role | undefined;
      try {
        role = (
          await call(`IAM GetRole ${roleName}`, (abortSignal) =>
            aws.iam(target).send(new GetRoleCommand({ RoleName: roleName }), { abortSignal }),
          )
        ).Role;
      } catch (e) {
        if (!(e instanceof Error && e.name === 'NoSuchEntityException')) throw e;
      }
      const roleArn = role?.Arn;
      if (!roleArn || !role?.AssumeRolePolicyDocument)
        return [
          {
            check: name,
            status: 'FAIL',
            detail: `no role ${roleName}: the bake of ${env.stageName} reads its alarm through the CDK bootstrap lookup role, and the pipeline cannot be created while it names a role that does not exist`,
            fix,
          },
        ];
      const findings: Finding[] = [];
      const trust = trustOf(role.AssumeRolePolicyDocument, config.pipeline.account, partition);
      if (!trust.trusted)
        findings.push({
          check: name,
          status: 'FAIL',
          detail: `${roleName} does not trust the pipeline account ${config.pipeline.account}: the pipeline cannot read ${env.stageName}'s bake alarm`,
          fix,
        });
      else if (trust.conditioned)
        findings.push({
          check: name,
          status: 'WARN',
          detail: `${roleName} trusts the pipeline account ${config.pipeline.account} under a condition the bootstrap template does not set; CodePipeline and the bake watch assume it with no external id, tags or MFA`,
          fix: `compare its trust policy with the CDK bootstrap template's LookupRole (aws iam get-role --role-name ${roleName})`,
        });
      else
        findings.push({
          check: name,
          status: 'PASS',
          detail: `${roleName} trusts the pipeline account ${config.pipeline.account}`,
        });

      // DescribeAlarms returns composite alarms only to a caller allowed it on "*"
      // (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_DescribeAlarms.html).
      const simulated = await call(`IAM SimulatePrincipalPolicy ${roleName}`, (abortSignal) =>
        aws.iam(target).send(
          new SimulatePrincipalPolicyCommand({
            PolicySourceArn: roleArn,
            ActionNames: ['cloudwatch:DescribeAlarms'],
            ResourceArns: ['*'],
          }),
          { abortSignal },
        ),
      );
      const decision = simulated.EvaluationResults?.[0]?.EvalDecision ?? 'unknown';
      findings.push(
        decision === 'allowed'
          ? {
              check: name,
              status: 'PASS',
              detail: `${roleName} may call cloudwatch:DescribeAlarms on * (composite alarms are visible)`,
            }
          : {
              check: name,
              status: 'FAIL',
              detail: `${roleName} may not call cloudwatch:DescribeAlarms on * (${decision}): the bake would find no composite alarm`,
              fix: `re-bootstrap ${env.account}/${env.region} with the CDK bootstrap template, whose lookup role has ReadOnlyAccess (${fix})`,
            },
      );
      return findings;
    },
  };
}

/** The add-on the bake's availability alarm depends on (lib/config/cloudwatch-observability.ts). */
export const CLOUDWATCH_OBSERVABILITY = 'amazon-cloudwatch-observability';

export function observabilityAddonCheck(env: EnvironmentConfig): Check {
  const target = { account: env.account, region: env.region };
  const name = 'observability add-on';
  const pinned = KUBERNETES_VERSIONS[env.kubernetesVersion].cloudWatchObservabilityAddon;
  return {
    name,
    target,
    async run({ aws, call }) {
      const offered = await call(
        `EKS DescribeAddonVersions ${CLOUDWATCH_OBSERVABILITY}`,
        async (abortSignal) => {
          const versions: string[] = [];
          const pages = paginateDescribeAddonVersions(
            { client: aws.eks(target), stopOnSameToken: true },
            { addonName: CLOUDWATCH_OBSERVABILITY, kubernetesVersion: env.kubernetesVersion },
            { abortSignal },
          );
          for await (const page of pages)
            for (const addon of page.addons ?? [])
              for (const v of addon.addonVersions ?? [])
                if (v.addonVersion) versions.push(v.addonVersion);
          return versions;
        },
      );
      if (offered.includes(pinned))
        return [
          {
            check: name,
            status: 'PASS',
            detail: `${CLOUDWATCH_OBSERVABILITY} ${pinned} is offered for Kubernetes ${env.kubernetesVersion} (${env.stageName})`,
          },
        ];
      return [
        {
          check: name,
          status: 'FAIL',
          detail: `EKS does not offer ${CLOUDWATCH_OBSERVABILITY} ${pinned} for Kubernetes ${env.kubernetesVersion} in ${env.region}; offered: ${offered.slice(0, 8).join(', ') || 'none'}`,
          fix: `set cloudWatchObservabilityAddon of ${env.kubernetesVersion} in lib/config/kubernetes-versions.ts to an offered version whose Container Insights metrics are known (lib/config/cloudwatch-observability.ts)`,
        },
      ];
    },
  };
}
