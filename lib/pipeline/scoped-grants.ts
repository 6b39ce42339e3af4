import { Lazy, Stack } from 'aws-cdk-lib';
import * as codebuild from 'aws-cdk-lib/aws-codebuild';
import type * as codepipeline from 'aws-cdk-lib/aws-codepipeline';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type { IConstruct } from 'constructs';

/**
 * Narrows two `Resource: "*"` grants CDK Pipelines writes and offers no setting for
 * (docs/decisions/0008-scoped-pipeline-iam.md):
 *
 * - The pipeline role's KMS grant for the cross-region replication buckets. Their keys live in other
 *   regions, so aws-cdk-lib's Key.grant cannot name their ARNs and grants kms:Decrypt/Encrypt/
 *   ReEncrypt*\/GenerateDataKey* on `*`: every key in the account whose policy delegates to IAM.
 *   It becomes the key ARNs of the pipeline account in those regions, limited by `kms:ResourceAliases`
 *   to the replication keys' aliases (a condition KMS evaluates on key operations:
 *   https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-resource-aliases).
 * - The asset-publishing role's codebuild:StartBuild/StopBuild/BatchGetBuilds on `*`: any project in
 *   the account, the self-mutation project (which may assume the deploy roles) included, for a build
 *   that installs packages from npm. It becomes the asset-publishing projects only.
 *
 * Both rewrite the synthesized policy document (an override computed at synth, after every grant),
 * and leave any other statement untouched; test/pipeline/iam-wildcards.test.ts fails on a `*` that
 * is not on its reasoned list.
 */
export function scopePipelineGrants(
  pipeline: codepipeline.Pipeline,
  assetsScope: IConstruct | undefined,
): void {
  const stack = Stack.of(pipeline);

  const crossRegion = Object.entries(pipeline.crossRegionSupport);
  if (crossRegion.length > 0) {
    const aliases = crossRegion.map(([, support]) => {
      const key = support.replicationBucket.encryptionKey;
      if (!(key instanceof kms.Alias))
        throw new Error(
          'internal: a cross-region replication bucket without a KMS alias (crossAccountKeys must stay on)',
        );
      return key.aliasName;
    });
    const keyArns = crossRegion.map(([region]) =>
      stack.formatArn({ service: 'kms', region, resource: 'key', resourceName: '*' }),
    );
    rewriteStatements(defaultPolicyOf(pipeline.role), (statement) => {
      if (!isWildcard(statement) || !actionsOf(statement).every((a) => a.startsWith('kms:')))
        return [statement];
      const { Resource, ...rest } = statement;
      const others = (Array.isArray(Resource) ? (Resource as unknown[]) : [Resource]).filter(
        (r) => r !== '*',
      );
      return [
        ...(others.length > 0
          ? [{ ...rest, Resource: others.length === 1 ? others[0] : others }]
          : []),
        {
          ...rest,
          Resource: keyArns,
          Condition: { 'ForAnyValue:StringEquals': { 'kms:ResourceAliases': aliases } },
        },
      ];
    });
  }

  if (assetsScope) {
    const projects = assetsScope.node
      .findAll()
      .filter((c): c is codebuild.Project => c instanceof codebuild.Project);
    const roles = new Set(
      projects.map((p) => p.role).filter((r): r is iam.IRole => r !== undefined),
    );
    for (const role of roles) {
      rewriteStatements(defaultPolicyOf(role), (statement) =>
        isWildcard(statement) && actionsOf(statement).every((a) => a.startsWith('codebuild:'))
          ? [{ ...statement, Resource: projects.map((p) => p.projectArn) }]
          : [statement],
      );
    }
  }
}

type Statement = {
  Action?: string | string[];
  Resource?: unknown;
  Condition?: unknown;
  [key: string]: unknown;
};

function actionsOf(s: Statement): string[] {
  return s.Action === undefined ? [] : Array.isArray(s.Action) ? s.Action : [s.Action];
}

function isWildcard(s: Statement): boolean {
  return s.Resource === '*' || (Array.isArray(s.Resource) && s.Resource.includes('*'));
}

function defaultPolicyOf(role: iam.IRole): iam.CfnPolicy {
  const policy = role.node.tryFindChild('DefaultPolicy');
  const cfn =
    policy instanceof iam.Policy ? (policy.node.defaultChild as iam.CfnPolicy) : undefined;
  if (!cfn) throw new Error(`internal: role ${role.node.path} has no default policy to scope`);
  return cfn;
}

/** The rewrites registered for each policy, applied in order by one override. */
const rewrites = new WeakMap<iam.CfnPolicy, Array<(s: Statement) => Statement[]>>();

/**
 * Overrides the policy document with its own statements, rewritten, once every grant has been
 * added (at synth). Several rewrites of one policy compose: one override applies them all.
 */
function rewriteStatements(cfn: iam.CfnPolicy, rewrite: (s: Statement) => Statement[]): void {
  const registered = rewrites.get(cfn);
  if (registered) {
    registered.push(rewrite);
    return;
  }
  const all = [rewrite];
  rewrites.set(cfn, all);
  const stack = Stack.of(cfn);
  const original: unknown = cfn.policyDocument;
  cfn.addPropertyOverride(
    'PolicyDocument',
    Lazy.any({
      produce: () => {
        const doc = stack.resolve(original) as { Statement: Statement[] };
        return {
          ...doc,
          Statement: all.reduce((statements, r) => statements.flatMap(r), doc.Statement),
        };
      },
    }),
  );
}

const OLD_USE_CONNECTION = 'codestar-connections:UseConnection';

/**
 * Gives the pipeline the connection action its connection's ARN asks for. aws-cdk-lib (2.276)
 * grants `codestar-connections:UseConnection` on the connection whatever its ARN, but "when
 * specifying a resource in the IAM policy, the service prefix needs to match that of the resource"
 * (https://docs.aws.amazon.com/dtconsole/latest/userguide/rename.html), and connections created
 * since July 2024 are `arn:<partition>:codeconnections:...`. Every such grant in the pipeline
 * (the source action's role; a CodeBuild role with `codeBuildCloneOutput`) becomes
 * `codeconnections:UseConnection` when its resources are codeconnections ARNs; the older
 * `codestar-connections` ARNs keep their action.
 */
export function matchConnectionActionPrefix(pipeline: codepipeline.Pipeline): void {
  const policies = pipeline.node
    .findAll()
    .filter((c): c is iam.CfnPolicy => c instanceof iam.CfnPolicy);
  for (const policy of policies) {
    rewriteStatements(policy, (statement) => {
      if (!actionsOf(statement).includes(OLD_USE_CONNECTION)) return [statement];
      const resources = Array.isArray(statement.Resource)
        ? (statement.Resource as unknown[])
        : [statement.Resource];
      const service = (r: unknown): string | undefined =>
        typeof r === 'string' ? r.split(':')[2] : undefined;
      if (!resources.every((r) => service(r) === 'codeconnections')) return [statement];
      const renamed = actionsOf(statement).map((a) =>
        a === OLD_USE_CONNECTION ? 'codeconnections:UseConnection' : a,
      );
      return [{ ...statement, Action: renamed.length === 1 ? renamed[0] : renamed }];
    });
  }
}
