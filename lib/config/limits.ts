import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { z } from 'zod';
import { SUBNET_CONFIGURATION } from './subnets';

/**
 * Limits that make a config the schema accepts also one that synthesizes and deploys: each rule
 * mirrors what a later step (the CDK, CloudFormation, EKS, Kubernetes, git, the service) would
 * otherwise refuse, with a stack trace at synth or a failure at deploy. Each cites where the
 * limit comes from. `schema.ts` uses the single-field rules; `checkLimits` holds the rules that
 * need two fields (the VPC CIDR and the zone count, replicas and nodes).
 */

/** Kubernetes' integer fields (`maxReplicas`, `minReplicas`, `replicas`) are int32. */
export const INT32_MAX = 2 ** 31 - 1;

/**
 * "Nodes per managed node group", default 450 (adjustable):
 * https://docs.aws.amazon.com/eks/latest/userguide/service-quotas.html. A raised quota means
 * raising this number too; beyond it EKS fails the node group update at deploy time.
 */
export const EKS_MAX_NODES_PER_MANAGED_NODE_GROUP = 450;

/**
 * Kubernetes supports at most 110 pods per node
 * (https://kubernetes.io/docs/setup/best-practices/cluster-large/); on EKS the VPC CNI allows
 * fewer on most instance types. More replicas than the node group's maximum can hold would stay
 * Pending forever, so `replicas.max` is bounded by `nodes.max` times this.
 */
export const MAX_PODS_PER_NODE = 110;

/**
 * "Public endpoint access CIDR ranges per cluster": 40, not adjustable
 * (https://docs.aws.amazon.com/eks/latest/userguide/service-quotas.html).
 */
export const EKS_MAX_PUBLIC_ACCESS_CIDRS = 40;

/** A VPC's IPv4 CIDR block is between /16 and /28: https://docs.aws.amazon.com/vpc/latest/userguide/vpc-cidr-blocks.html */
export const VPC_PREFIX = { min: 16, max: 28 } as const;

/**
 * ECR repository names: 2-256 characters matching this pattern
 * (https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_CreateRepository.html,
 * `repositoryName`); aws-cdk-lib's `Repository` throws at synth on anything else.
 */
export const ECR_REPOSITORY_NAME = {
  pattern: /^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*\/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$/,
  minLength: 2,
  maxLength: 256,
} as const;

/** CodeCommit branch names are 1-256 characters: https://docs.aws.amazon.com/codecommit/latest/APIReference/API_CreateBranch.html */
export const MAX_BRANCH_NAME_LENGTH = 256;

/**
 * The service's greeting (HELLO). The Go service counts characters as Unicode code points (runes)
 * and refuses control characters (Unicode category Cc) at start (app/config.go, `checkText`).
 * app/testdata/greeting-rule.json holds the limit and the test cases both sides run.
 */
export const MAX_GREETING_CHARACTERS = 64;

/** Why `text` cannot be the service's greeting, or undefined if it can. */
export function greetingProblem(text: string): string | undefined {
  if (text.length === 0) return 'must not be empty (leave greeting out for the default "Hello")';
  // A lone UTF-16 surrogate cannot be encoded as UTF-8: the service would receive U+FFFD or nothing.
  if (/\p{Cs}/u.test(text)) return 'must be valid Unicode (it holds a lone UTF-16 surrogate)';
  const characters = [...text].length;
  if (characters > MAX_GREETING_CHARACTERS)
    return `must be at most ${MAX_GREETING_CHARACTERS} characters, got ${characters}`;
  const control = /\p{Cc}/u.exec(text);
  if (control)
    return `must not contain control characters, got U+${control[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')} at character ${[...text.slice(0, control.index)].length + 1}`;
  return undefined;
}

/**
 * Why git would refuse `name` as a branch, or undefined. The rules of `git check-ref-format
 * --branch` (https://git-scm.com/docs/git-check-ref-format), applied to `refs/heads/<name>`:
 * a branch git refuses can never be pushed, so the pipeline would wait for it forever.
 * Hand-written because no JavaScript library in this project implements them; the test runs the
 * real git over the same names to keep the two in step.
 */
export function gitBranchNameProblem(name: string): string | undefined {
  if (name.length === 0) return 'must not be empty';
  if (name.length > MAX_BRANCH_NAME_LENGTH)
    return `must be at most ${MAX_BRANCH_NAME_LENGTH} characters (CodeCommit), got ${name.length}`;
  if (name === 'HEAD') return 'must not be "HEAD"';
  if (name.startsWith('-')) return 'must not start with "-"';
  // Control characters (< 0x20 and DEL), space, ~ ^ : ? * [ \
  // eslint-disable-next-line no-control-regex -- matching control characters is the point: git refuses them in branch names
  const bad = /[\u0000-\u0020\u007f~^:?*[\\]/.exec(name);
  if (bad)
    return `must not contain ${JSON.stringify(bad[0])} (nor spaces, control characters, ~ ^ : ? * [ \\)`;
  if (name.includes('..')) return 'must not contain ".."';
  if (name.includes('@{')) return 'must not contain "@{"';
  if (name.startsWith('/') || name.endsWith('/') || name.includes('//'))
    return 'must not start or end with "/" or contain "//"';
  if (name.endsWith('.')) return 'must not end with "."';
  for (const component of name.split('/')) {
    if (component.startsWith('.'))
      return `no "/"-separated part may start with "." (got "${component}")`;
    if (component.endsWith('.lock'))
      return `no "/"-separated part may end with ".lock" (got "${component}")`;
  }
  return undefined;
}

export const greetingSchema = z.string().superRefine((text, ctx) => {
  const problem = greetingProblem(text);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

export const branchSchema = z.string().superRefine((name, ctx) => {
  const problem = gitBranchNameProblem(name);
  if (problem)
    ctx.addIssue({
      code: 'custom',
      message: `${JSON.stringify(name)} is not a branch name git accepts: ${problem} (git check-ref-format rules)`,
    });
});

export const ecrRepositoryNameSchema = z.string().superRefine((name, ctx) => {
  const { pattern, minLength, maxLength } = ECR_REPOSITORY_NAME;
  if (name.length < minLength || name.length > maxLength || !pattern.test(name)) {
    ctx.addIssue({
      code: 'custom',
      message: `must be an ECR repository name: ${minLength}-${maxLength} characters of lowercase letters, digits and single "." "_" "-" or "/" between them, such as "orders-api" or "team/orders-api"; got ${JSON.stringify(name)} (${name.length} characters)`,
    });
  }
});

/** Bounds for the node group's sizes: EKS's per-node-group quota. */
export const nodeCountSchema = z
  .number()
  .int('must be a whole number')
  .min(1, 'must be at least 1')
  .max(
    EKS_MAX_NODES_PER_MANAGED_NODE_GROUP,
    `must be at most ${EKS_MAX_NODES_PER_MANAGED_NODE_GROUP}, the EKS quota "Nodes per managed node group" (docs/configuration.md says how to raise it)`,
  );

/** Bounds for pod counts: Kubernetes' int32 fields. `checkLimits` bounds them further by the node group. */
export const replicaCountSchema = z
  .number()
  .int('must be a whole number')
  .min(1, 'must be at least 1')
  .max(INT32_MAX, `must be at most ${INT32_MAX} (Kubernetes stores replica counts as int32)`);

/** An IPv4 CIDR AWS accepts as a VPC's block: /16 to /28, written as its network address. */
export const vpcCidrSchema = z.string().superRefine((cidr, ctx) => {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(cidr);
  const octets = m ? m.slice(1, 5).map(Number) : [];
  if (!m || octets.some((o) => o > 255)) {
    ctx.addIssue({
      code: 'custom',
      message: `must be an IPv4 CIDR such as "10.0.0.0/16", got ${JSON.stringify(cidr)}`,
    });
    return;
  }
  const prefix = Number(m[5]);
  if (prefix < VPC_PREFIX.min || prefix > VPC_PREFIX.max) {
    ctx.addIssue({
      code: 'custom',
      message: `a VPC's CIDR must be between /${VPC_PREFIX.min} and /${VPC_PREFIX.max} (AWS VPC limit), got /${prefix}`,
    });
    return;
  }
  const address = octets.reduce((a, o) => a * 256 + o, 0);
  const network = address - (address % 2 ** (32 - prefix));
  if (network !== address) {
    const n = [24, 16, 8, 0].map((s) => Math.floor(network / 2 ** s) % 256).join('.');
    ctx.addIssue({
      code: 'custom',
      message: `must be written as its network address: expected "${n}/${prefix}", got ${JSON.stringify(cidr)}`,
    });
  }
});

/**
 * Whether the VPC's subnets (lib/constructs/network.ts) fit `cidr` for `zones` availability
 * zones, asked of the CDK's own allocator, the one the VPC uses at synth.
 */
export function subnetsFit(cidr: string, zones: number): boolean {
  const requestedSubnets = SUBNET_CONFIGURATION.flatMap((configuration) =>
    Array.from({ length: zones }, (_, i) => ({
      availabilityZone: `zone-${i}`,
      subnetConstructId: `${configuration.name}${i}`,
      configuration,
    })),
  );
  try {
    ec2.IpAddresses.cidr(cidr).allocateSubnetsCidr({ vpcCidr: cidr, requestedSubnets });
    return true;
  } catch {
    // The allocator's only failure is "exceeds remaining space"; the caller words the problem.
    return false;
  }
}

/** The largest prefix (smallest VPC) that holds the subnets for `zones` zones, or undefined if even a /16 does not. */
export function smallestVpcPrefixFor(zones: number): number | undefined {
  for (let prefix = VPC_PREFIX.max; prefix >= VPC_PREFIX.min; prefix--) {
    if (subnetsFit(`10.0.0.0/${prefix}`, zones)) return prefix;
  }
  return undefined;
}

/** The parts of an environment the limits span, defaults applied; a part that is itself invalid is left out. */
export interface LimitsInput {
  readonly path: string;
  readonly vpcCidr?: string;
  readonly zones?: number;
  readonly nodesMax?: number;
  readonly replicasMax?: number;
}

/** Rules over two fields of one environment; every problem names its path. */
export function checkLimits(
  environments: readonly LimitsInput[],
): { path: string; message: string }[] {
  const problems: { path: string; message: string }[] = [];
  const masks = SUBNET_CONFIGURATION.map((s) => `/${s.cidrMask}`).join(' + ');
  for (const e of environments) {
    if (
      e.vpcCidr !== undefined &&
      e.zones !== undefined &&
      vpcCidrSchema.safeParse(e.vpcCidr).success &&
      !subnetsFit(e.vpcCidr, e.zones)
    ) {
      const need = smallestVpcPrefixFor(e.zones);
      problems.push({
        path: `${e.path}.vpcCidr`,
        message:
          need === undefined
            ? `${e.zones} availability zones need more addresses (${masks} per zone) than the largest VPC (/${VPC_PREFIX.min}) holds; use fewer availabilityZones`
            : `"${e.vpcCidr}" is too small for the subnets of ${e.zones} availability zones (${masks} per zone): expected /${need} or larger (a smaller prefix), got /${e.vpcCidr.split('/')[1]}; or use fewer availabilityZones`,
      });
    }
    const podCapacity = (e.nodesMax ?? Infinity) * MAX_PODS_PER_NODE;
    if (e.replicasMax !== undefined && e.replicasMax > podCapacity) {
      problems.push({
        path: `${e.path}.replicas.max`,
        message: `must be at most ${podCapacity}: nodes.max (${e.nodesMax}) × ${MAX_PODS_PER_NODE} pods per node (the Kubernetes limit), got ${e.replicasMax}; more pods could never be scheduled`,
      });
    }
  }
  return problems;
}
