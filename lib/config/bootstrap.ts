/**
 * The CDK bootstrap roles this project relies on, named in one place. `cdk bootstrap` creates them
 * in every account and region it bootstraps, before any pipeline exists, as
 * `cdk-<qualifier>-<kind>-role-<account>-<region>` (aws-cdk's bootstrap-template.yaml, `RoleName`
 * of each role). The project uses the default synthesizer, so the qualifier is the default one:
 * `hnb659fds`, `DefaultStackSynthesizer.DEFAULT_QUALIFIER` (`cdk bootstrap --qualifier` would change
 * it, and the synthesizer's `qualifier` with it; the project sets neither). A literal, so that the
 * tools import no aws-cdk-lib for it; test/config/bootstrap.test.ts ties it to the synthesizer's.
 *
 * - `deploy`: CloudFormation deploys the stages through it (CDK Pipelines).
 * - `lookup`: AWS managed ReadOnlyAccess, with an explicit Deny of kms:Decrypt; it trusts its own
 *   account and the accounts given with `--trust` or `--trust-for-lookup`. The bake reads its alarm
 *   through it (docs/decisions/0023-bake-alarm-through-bootstrap-lookup-role.md).
 */
export const BOOTSTRAP_QUALIFIER = 'hnb659fds';

export type BootstrapRoleKind = 'deploy' | 'lookup';

/** The role's name (IAM names are global to the account, so the region is part of it). */
export function bootstrapRoleName(
  kind: BootstrapRoleKind,
  account: string,
  region: string,
): string {
  return `cdk-${BOOTSTRAP_QUALIFIER}-${kind}-role-${account}-${region}`;
}

/** The role's ARN in `partition` (a literal, or a token such as `Aws.PARTITION`). */
export function bootstrapRoleArn(
  kind: BootstrapRoleKind,
  target: { readonly account: string; readonly region: string },
  partition: string,
): string {
  return `arn:${partition}:iam::${target.account}:role/${bootstrapRoleName(kind, target.account, target.region)}`;
}
