import { RegionInfo } from 'aws-cdk-lib/region-info';
import { AWS_REGIONS, nearestRegion } from './regions';
import { z } from 'zod';
import { SUPPORTED_KUBERNETES_VERSIONS, isSupportedKubernetesVersion } from './kubernetes-versions';
import {
  EKS_MAX_PUBLIC_ACCESS_CIDRS,
  ecrRepositoryNameSchema,
  greetingSchema,
  nodeCountSchema,
  replicaCountSchema,
  vpcCidrSchema,
} from './limits';
import { patchingSchema } from './patching';
import { serviceSchema } from './service';
import { sourceSchema } from './source';
import { bakeSchema, deploymentWindowSchema, notificationsSchema } from './safe-delivery';
import { changeReportSchema } from './change-report';
import { tlsFields, tlsProblems } from './tls';

/**
 * The schema of STACK_ENVIRONMENTS. Every object is strict: an unknown key is an error, so a
 * typo (`replica` for `replicas`) is reported instead of silently ignored. Cross-field rules
 * (unique stage names, AZs in their region, ...) live in `checkDeliveryConfig` below so that all
 * problems are reported in one pass. Defaults live in `defaults.ts`, applied once by `resolve.ts`.
 */

export { AWS_REGIONS };

/**
 * Names every JavaScript object already owns through its prototype (`constructor`, `toString`,
 * ...). A stage's name is the id of its construct, and the constructs library keeps a scope's
 * children in a plain object: a child named like one of these is "already there" before it is
 * added. Read from the runtime itself rather than typed by hand.
 */
const OBJECT_OWNED_NAMES: ReadonlySet<string> = new Set(
  Object.getOwnPropertyNames(Object.prototype),
);

const account = z
  .string()
  .regex(/^\d{12}$/, { message: 'must be a 12-digit AWS account id, for example "111111111111"' });

const region = z.string().refine((r) => AWS_REGIONS.includes(r), {
  error: (issue) =>
    `${JSON.stringify(issue.input)} is not an AWS region${suggestRegion(String(issue.input))}`,
});

const ipv4Cidr = z
  .string()
  .regex(/^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}\/(3[0-2]|[12]?\d)$/, {
    message: 'must be an IPv4 CIDR such as "203.0.113.0/24"',
  });

export const nodesSchema = z.strictObject({
  /** EC2 instance type of the managed node group. Graviton (`m7g`, `c7g`, ...) or x86; it must match `image.architecture`. @default "m7g.large" */
  instanceType: z
    .string()
    .regex(/^[a-z][a-z0-9-]*\d[a-z0-9-]*\.[a-z0-9]+$/, {
      message: 'must be an EC2 instance type such as "m7g.large"',
    })
    .optional(),
  /** @default 3 */
  min: nodeCountSchema.optional(),
  /** @default 3 */
  desired: nodeCountSchema.optional(),
  /** @default 9 */
  max: nodeCountSchema.optional(),
  /** Size of each node's root volume in GiB. @default 50 */
  diskSizeGiB: z.number().int().min(20).max(16384).optional(),
});

export const replicasSchema = z.strictObject({
  /** Fewest pods; the HPA never goes below it and the PDB keeps `min - 1` available. @default 3 */
  min: replicaCountSchema.optional(),
  /** Most pods the HPA may run. @default 12 */
  max: replicaCountSchema.optional(),
  /** Average CPU utilisation (percent of request) the HPA aims for. @default 70 */
  targetCpuPercent: z.number().int().min(10).max(95).optional(),
});

export const environmentSchema = z.strictObject({
  /** The AWS account the environment deploys to. Required. */
  account,
  /** The AWS region the environment deploys to. Required. */
  region,
  /** Stage name; must be unique. @default "<preprod|prod>-<region>" */
  name: z
    .string()
    .superRefine((name, ctx) => {
      if (!/^[a-z][a-z0-9-]{0,38}[a-z0-9]$/.test(name))
        ctx.addIssue({
          code: 'custom',
          message: 'must be 2-40 characters of a-z, 0-9 and "-", starting with a letter',
        });
      else if (OBJECT_OWNED_NAMES.has(name))
        ctx.addIssue({
          code: 'custom',
          message: `"${name}" is a name every JavaScript object already has (the construct tree would find it before any stage: "There is already a Construct with name '${name}'"); choose another name`,
        });
    })
    .optional(),
  /** The VPC's availability zones, at least two, all in `region`. Never looked up at synth. @default ["<region>a", "<region>b", "<region>c"] */
  availabilityZones: z.array(z.string()).optional(),
  /** NAT gateways: one per AZ keeps egress up when an AZ fails. @default one per availability zone */
  natGateways: z
    .number()
    .int()
    .min(1, 'must be at least 1: nodes in private subnets need egress to pull images')
    .optional(),
  /** CIDR of the VPC. @default "10.0.0.0/16" */
  vpcCidr: vpcCidrSchema.optional(),
  /** Kubernetes minor version; must be one the project ships a kubectl layer for. @default "1.35" */
  kubernetesVersion: z.string().optional(),
  /** Source CIDRs allowed to reach the public cluster endpoint. Empty means a private endpoint only. @default [] */
  endpointPublicCidrs: z
    .array(ipv4Cidr)
    .max(
      EKS_MAX_PUBLIC_ACCESS_CIDRS,
      `at most ${EKS_MAX_PUBLIC_ACCESS_CIDRS} CIDRs: the EKS quota "Public endpoint access CIDR ranges per cluster" (not adjustable)`,
    )
    .optional(),
  /** IAM role ARN given cluster-admin through an EKS access entry (on-call and breakglass). @default none */
  operatorRoleArn: z
    .string()
    .regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]+$/, {
      message: 'must be an IAM role ARN such as "arn:aws:iam::111111111111:role/Operators"',
    })
    .optional(),
  /** Managed node group settings. */
  nodes: nodesSchema.optional(),
  /** Pod count bounds for the HPA. */
  replicas: replicasSchema.optional(),
  /** ACM certificate ARN in this environment's region; when set the NLB also terminates TLS on 443. @default none (HTTP on 80 only) */
  certificateArn: z
    .string()
    .regex(/^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate\/[0-9a-f-]+$/, {
      message:
        'must be an ACM certificate ARN such as "arn:aws:acm:eu-west-1:111111111111:certificate/0123abcd-..."',
    })
    .optional(),
  ...tlsFields,
  /** The greeting the service answers with (the seed's HELLO variable). @default "Hello" */
  greeting: greetingSchema.optional(),
  /** Days to keep control-plane, VPC flow and application logs. @default 90 */
  logRetentionDays: z.number().int().min(1).max(3653).optional(),
  /** Node patch compliance (Systems Manager Scan): see lib/config/patching.ts. */
  patching: patchingSchema.optional(),
  /** How long the environment bakes after a deployment and the alarm thresholds it bakes behind (safe-delivery.ts). */
  bake: bakeSchema.optional(),
  /** The deploy's breakglass check (tools/pipeline/breakglass-check). */
  breakglassCheck: z
    .strictObject({
      /**
       * true: when this environment's audit table is still on a KMS key (made before ADR 0035),
       * which the check cannot read, its deploy (the one that moves the table to DynamoDB's own
       * key) goes ahead without the records being read: an operator has looked at them first
       * (docs/runbooks/breakglass.md, "The check could not check"). Ignored once the records
       * can be read. @default false
       */
      kmsTableUpgrade: z.boolean().optional(),
    })
    .optional(),
});

const waveSchema = z
  .array(environmentSchema)
  .min(1, { message: 'a wave must hold at least one environment' });

export const deliveryConfigSchema = z.strictObject({
  /** The service this repository delivers: its name derives every other name (service.ts, names.ts). @default DEFAULT_SERVICE (defaults.ts) */
  service: serviceSchema.optional(),
  /** Where the pipeline itself lives. Required. */
  pipeline: z.strictObject({
    account,
    region,
    /**
     * The CodePipeline's name; also the start of the stack names `<name>-pipeline` and
     * `<name>-image-<region>`, and of the notification topic's display name. @default "<service.name>-delivery"
     */
    name: z
      .string()
      .superRefine((name, ctx) => {
        const problem = pipelineNameProblem(name);
        if (problem) ctx.addIssue({ code: 'custom', message: problem });
      })
      .optional(),
    /**
     * true: the Build step refuses a release that builds a new image while a deploy stage would
     * have no rollback target (the commit also changes the pipeline's definition, or a stage has
     * not succeeded yet on the pipeline's current version). Read by the Build step at run time,
     * so switching it does not change the pipeline (docs/decisions/0026-rollback-targets-across-pipeline-changes.md).
     * @default false
     */
    requireRollbackTarget: z.boolean().optional(),
  }),
  /** Where the code comes from: a CodeCommit repository or a CodeConnections source (source.ts). Required. */
  source: sourceSchema,
  /** The service image. */
  image: z
    .strictObject({
      /** ECR repository name in the pipeline account. @default service.name */
      repositoryName: ecrRepositoryNameSchema.optional(),
      /** CPU architecture the image is built for; every environment's instance type must match. @default "arm64" */
      architecture: z.enum(['arm64', 'amd64']).optional(),
      /** Lowest scan severity that blocks a deployment. @default "CRITICAL" */
      failOn: z.enum(['CRITICAL', 'HIGH', 'MEDIUM', 'LOW']).optional(),
      /**
       * ENHANCED: Amazon Inspector scans the pushed image continuously (the Amazon Linux 2023 base's
       * packages and the Go binary's modules). BASIC: ECR's free scan on push (OS packages only).
       * @default "ENHANCED"
       */
      scanning: z.enum(['ENHANCED', 'BASIC']).optional(),
      /** Images the lifecycle policy keeps: every one is a rollback target. @default 30 */
      keepImages: z
        .number()
        .int()
        .min(30, 'must be at least 30: each kept image is a rollback target')
        .max(1000)
        .optional(),
    })
    .optional(),
  /** The pre-production environment, deployed first and smoke-tested before the approval. Required. */
  preprod: environmentSchema,
  /** Production, as waves: wave 1 deploys first (one region is wise); the regions of a later wave deploy in parallel. Required. */
  prod: z.strictObject({
    waves: z.array(waveSchema).min(1, { message: 'prod needs at least one wave' }),
    /** Optional windows in which a prod wave may start (DeploymentWindow rule). @default none: any time */
    deploymentWindows: z.array(deploymentWindowSchema).optional(),
    /** What the change report before the approval blocks on (change-report.ts). @default { blockOn: [] } */
    changeReport: changeReportSchema.optional(),
  }),
  /** Who hears about approvals waiting, failures, rollbacks and releases (safe-delivery.ts). @default no subscriptions */
  notifications: notificationsSchema.optional(),
});

export type DeliveryConfigInput = z.input<typeof deliveryConfigSchema>;
export type EnvironmentInput = z.input<typeof environmentSchema>;

/**
 * The longest pipeline name: the notification topic's display name `<name> notifications` may
 * hold at most 100 characters (SNS `DisplayName`; aws-cdk-lib's Topic refuses more at synth).
 * The stack names it starts stay under CloudFormation's 128 with it.
 */
export const MAX_PIPELINE_NAME_LENGTH = 100 - ' notifications'.length;

/**
 * Why `name` cannot be the pipeline's name, or undefined. It must be a CodePipeline name
 * (https://docs.aws.amazon.com/codepipeline/latest/APIReference/API_PipelineDeclaration.html:
 * `[A-Za-z0-9.@\-_]+`, at most 100) and start CloudFormation stack names (a letter, then letters,
 * digits and "-": https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateStack.html):
 * the stricter of the two.
 */
export function pipelineNameProblem(name: string): string | undefined {
  if (!/^[A-Za-z][A-Za-z0-9-]*$/.test(name))
    return 'must start with a letter and hold only letters, digits and "-": it starts the CloudFormation stack names <name>-pipeline and <name>-image-<region>';
  if (name.length > MAX_PIPELINE_NAME_LENGTH)
    return `must be at most ${MAX_PIPELINE_NAME_LENGTH} characters, got ${name.length}: the notification topic's display name "<name> notifications" may hold at most 100 (SNS)`;
  return undefined;
}

/** A problem found in the configuration: where, and what would be valid. */
export interface ConfigProblem {
  readonly path: string;
  readonly message: string;
}

/** `['prod', 'waves', 1, 0, 'region']` → `prod.waves[1][0].region` */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out === '' ? '(root)' : out;
}

/** An environment with its path in the config, in pipeline order (pre-prod first, then the waves in order). */
export interface EnvironmentAt {
  readonly env: EnvironmentInput;
  readonly path: string;
  readonly kind: 'preprod' | 'prod';
}

/** The parts of a config the cross-field rules look at; any of them may be missing when the rest did not parse. */
export interface CrossFieldInput {
  readonly pipelineRegion?: string;
  readonly architecture?: 'arm64' | 'amd64';
  readonly environments: readonly EnvironmentAt[];
  /** How many environments each prod wave holds (also those that did not parse). */
  readonly waveSizes?: readonly number[];
}

/** Cross-field input from a config that passed the schema. */
export function crossFieldInputOf(cfg: DeliveryConfigInput): CrossFieldInput {
  const environments: EnvironmentAt[] = [{ env: cfg.preprod, path: 'preprod', kind: 'preprod' }];
  cfg.prod.waves.forEach((wave, w) =>
    wave.forEach((env, i) =>
      environments.push({ env, path: `prod.waves[${w}][${i}]`, kind: 'prod' }),
    ),
  );
  return {
    pipelineRegion: cfg.pipeline.region,
    architecture: cfg.image?.architecture,
    environments,
    waveSizes: cfg.prod.waves.map((wave) => wave.length),
  };
}

/**
 * Cross-field input from a config that did NOT pass the schema: every part that parses on its
 * own (an environment, the pipeline, the image settings), so the cross-field rules still report
 * on those parts in the same run as the schema problems.
 */
export function salvageCrossFieldInput(raw: unknown): CrossFieldInput {
  const obj = (v: unknown): Record<string, unknown> =>
    v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  const root = obj(raw);
  const pipeline = deliveryConfigSchema.shape.pipeline.safeParse(root.pipeline);
  const image = deliveryConfigSchema.shape.image.safeParse(root.image);
  const environments: EnvironmentAt[] = [];
  const take = (value: unknown, path: string, kind: 'preprod' | 'prod') => {
    const parsed = environmentSchema.safeParse(value);
    if (parsed.success) environments.push({ env: parsed.data, path, kind });
  };
  take(root.preprod, 'preprod', 'preprod');
  const waves = obj(root.prod).waves;
  if (Array.isArray(waves))
    waves.forEach(
      (wave, w) =>
        Array.isArray(wave) &&
        wave.forEach((env, i) => take(env, `prod.waves[${w}][${i}]`, 'prod')),
    );
  return {
    pipelineRegion: pipeline.success ? pipeline.data.region : undefined,
    architecture: image.success ? image.data?.architecture : undefined,
    environments,
    waveSizes: Array.isArray(waves)
      ? waves.map((wave) => (Array.isArray(wave) ? wave.length : 0))
      : undefined,
  };
}

export function defaultStageName(kind: 'preprod' | 'prod', region: string): string {
  return `${kind}-${region}`;
}

/** The pipeline stage (and CDK Pipelines wave) of a prod wave of several environments; `wave` counts from 0. */
export function prodWaveName(wave: number): string {
  return `prod-wave-${wave + 1}`;
}

/** Graviton families carry a "g" right after the generation digit: m7g, c7gn, r8g, t4g, ... */
export function instanceArchitecture(instanceType: string): 'arm64' | 'amd64' {
  const family = instanceType.split('.')[0];
  return /^[a-z]+\d+g[a-z]*$/.test(family) ? 'arm64' : 'amd64';
}

/**
 * Rules that span several fields, over the parts of the config that passed the schema; collects
 * every problem instead of stopping at the first.
 */
export function checkDeliveryConfig(
  input: CrossFieldInput,
  defaults: {
    architecture: string;
    instanceType: string;
    nodes: { min: number; desired: number; max: number };
    replicas: { min: number; max: number };
  },
): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const partitionOf = (r: string) => RegionInfo.get(r).partition;
  const pipelinePartition =
    input.pipelineRegion === undefined ? undefined : partitionOf(input.pipelineRegion);
  const architecture = input.architecture ?? defaults.architecture;
  const seenStage = new Map<string, string>();
  const seenTarget = new Map<string, string>();

  for (const { env, path, kind } of input.environments) {
    if (pipelinePartition !== undefined && partitionOf(env.region) !== pipelinePartition) {
      problems.push({
        path: `${path}.region`,
        message: `"${env.region}" is in partition ${partitionOf(env.region)}, but the pipeline (pipeline.region "${input.pipelineRegion}") is in ${pipelinePartition}; a pipeline cannot deploy across partitions`,
      });
    }

    const stageName = env.name ?? defaultStageName(kind, env.region);
    const firstWithName = seenStage.get(stageName);
    if (firstWithName) {
      problems.push({
        path: env.name ? `${path}.name` : `${path}.region`,
        message: `stage name "${stageName}" is already used by ${firstWithName}; stage names must be unique (give one of them a "name")`,
      });
    } else {
      seenStage.set(stageName, path);
    }

    if (kind === 'prod') {
      const target = `${env.account}/${env.region}`;
      const first = seenTarget.get(target);
      if (first)
        problems.push({
          path,
          message: `account ${env.account} in ${env.region} is already a prod environment at ${first}; each prod environment needs its own account and region`,
        });
      else seenTarget.set(target, path);
    }

    if (env.availabilityZones) {
      const azs = env.availabilityZones;
      if (azs.length < 2)
        problems.push({
          path: `${path}.availabilityZones`,
          message: `needs at least two availability zones for a highly available cluster, got ${azs.length}`,
        });
      azs.forEach((az, i) => {
        if (!new RegExp(`^${env.region}[a-z]$`).test(az)) {
          problems.push({
            path: `${path}.availabilityZones[${i}]`,
            message: `"${az}" is not an availability zone of ${env.region} (expected "${env.region}a", "${env.region}b", ...)`,
          });
        } else if (azs.indexOf(az) !== i) {
          problems.push({
            path: `${path}.availabilityZones[${i}]`,
            message: `"${az}" is listed twice`,
          });
        }
      });
      if (env.natGateways !== undefined && env.natGateways > azs.length) {
        problems.push({
          path: `${path}.natGateways`,
          message: `${env.natGateways} NAT gateways for ${azs.length} availability zones; at most one per zone`,
        });
      }
    } else if (env.natGateways !== undefined && env.natGateways > 3) {
      problems.push({
        path: `${path}.natGateways`,
        message: `${env.natGateways} NAT gateways for the 3 default availability zones; at most one per zone`,
      });
    }

    if (
      env.kubernetesVersion !== undefined &&
      !isSupportedKubernetesVersion(env.kubernetesVersion)
    ) {
      problems.push({
        path: `${path}.kubernetesVersion`,
        message: `"${env.kubernetesVersion}" has no kubectl layer in this project; supported: ${SUPPORTED_KUBERNETES_VERSIONS.join(', ')} (see lib/config/kubernetes-versions.ts)`,
      });
    }

    const nodes = { ...defaults.nodes, ...env.nodes };
    if (!(nodes.min <= nodes.desired && nodes.desired <= nodes.max)) {
      problems.push({
        path: `${path}.nodes`,
        message: `node group sizes must satisfy 1 <= min <= desired <= max, got min ${nodes.min}, desired ${nodes.desired}, max ${nodes.max}`,
      });
    }
    const instanceType = env.nodes?.instanceType ?? defaults.instanceType;
    if (instanceArchitecture(instanceType) !== architecture) {
      problems.push({
        path: `${path}.nodes.instanceType`,
        message: `"${instanceType}" is ${instanceArchitecture(instanceType)} but the image is built for ${architecture} (image.architecture); pick an ${architecture} instance type or change image.architecture`,
      });
    }

    const replicas = { ...defaults.replicas, ...env.replicas };
    if (replicas.min > replicas.max) {
      problems.push({
        path: `${path}.replicas`,
        message: `replicas.min (${replicas.min}) must not exceed replicas.max (${replicas.max})`,
      });
    }
    if (kind === 'prod' && replicas.min < 2) {
      problems.push({
        path: `${path}.replicas.min`,
        message: `must be at least 2 in prod so one pod can be replaced while another serves, got ${replicas.min}`,
      });
    }

    if (env.certificateArn) {
      const certRegion = env.certificateArn.split(':')[3];
      if (certRegion !== env.region) {
        problems.push({
          path: `${path}.certificateArn`,
          message: `the certificate is in ${certRegion}, but an NLB can only use an ACM certificate of its own region (${env.region})`,
        });
      }
    }
    problems.push(...tlsProblems(env, path));
  }
  problems.push(...pipelineStageNameProblems(input));
  return problems;
}

/**
 * Pipeline stage names must be unique: pre-prod's stage and a one-environment wave are named
 * after their environment, a wave of several environments `prod-wave-<n>` (CDK Pipelines names
 * the wave, and two waves of one name crashed the synth with "Node with duplicate id"). An
 * environment that deploys alone may not take the name of a wider wave.
 */
function pipelineStageNameProblems(input: CrossFieldInput): ConfigProblem[] {
  const sizes = input.waveSizes;
  if (sizes === undefined) return [];
  const wideWaves = new Map<string, { wave: number; size: number }>();
  sizes.forEach((size, w) => size > 1 && wideWaves.set(prodWaveName(w), { wave: w, size }));
  const problems: ConfigProblem[] = [];
  for (const { env, path, kind } of input.environments) {
    const wave = /^prod\.waves\[(\d+)\]/.exec(path);
    const alone = kind === 'preprod' || (wave !== null && sizes[Number(wave[1])] === 1);
    const wide = env.name === undefined ? undefined : wideWaves.get(env.name);
    if (!alone || wide === undefined) continue;
    problems.push({
      path: `${path}.name`,
      message: `"${env.name}" is also the name of the pipeline stage of wave ${wide.wave + 1} (prod.waves[${wide.wave}], ${wide.size} environments); pipeline stage names must be unique: choose another name`,
    });
  }
  return problems;
}

function suggestRegion(input: string): string {
  const near = nearestRegion(input);
  return near
    ? ` (did you mean "${near}"?)`
    : ' (expected a region such as "eu-west-1"; see docs/configuration.md)';
}
