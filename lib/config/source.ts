import { RegionInfo } from 'aws-cdk-lib/region-info';
import { z } from 'zod';
import { branchSchema } from './limits';
import { AWS_REGIONS } from './regions';

/**
 * `source`: where the pipeline's code comes from. CodeCommit (the default, no `provider` key:
 * configs written before connections existed keep working) or a CodeConnections connection to
 * GitHub, GitLab or Bitbucket. A discriminated union on `provider`, so a CodeCommit key in a
 * GitHub source (or the reverse) is reported as an unknown key, never silently ignored.
 */

/** The providers a CodeConnections connection can reach that this project documents and tests. */
export const CONNECTION_PROVIDERS = ['GitHub', 'GitLab', 'Bitbucket'] as const;
export type ConnectionProvider = (typeof CONNECTION_PROVIDERS)[number];

/** A branch name git accepts (git check-ref-format rules, limits.ts). @default "main" */
const branch = branchSchema.optional();

export const codeCommitSourceSchema = z.strictObject({
  /** Absent or "CodeCommit". */
  provider: z.literal('CodeCommit').optional(),
  /** The CodeCommit repository the pipeline watches. @default service.name */
  repositoryName: z
    .string()
    .regex(/^[\w.-]{1,100}$/, {
      message: 'must be a CodeCommit repository name (1-100 of A-Z, a-z, 0-9, ".", "_", "-")',
    })
    .optional(),
  /** @default "main" */
  branch,
  /** true: the pipeline stack creates the repository; false: it uses an existing one by name. @default true */
  create: z.boolean().optional(),
});

// CodeConnections ARNs, new and old service prefix (the service was renamed from CodeStar
// Connections in 2024; both prefixes name the same resources):
// https://docs.aws.amazon.com/dtconsole/latest/userguide/rename.html
const CONNECTION_ARN =
  /^arn:(aws[a-z-]*):(codeconnections|codestar-connections):([a-z0-9-]+):(\d{12}):connection\/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export const connectionSourceSchema = z.strictObject({
  /** The Git provider the connection reaches. Required for a connection source. */
  provider: z.enum(CONNECTION_PROVIDERS),
  /** The connection's ARN (created in the pipeline account, then authorised in the console). Required. */
  connectionArn: z.string().regex(CONNECTION_ARN, {
    message:
      'must be a CodeConnections ARN such as "arn:aws:codeconnections:eu-west-1:111111111111:connection/0123abcd-0123-4567-89ab-0123456789ab" (the older "codestar-connections" form is accepted too)',
  }),
  /** "owner/repository" as the provider names it (GitLab: "group/subgroup/project"). Required. */
  repository: z.string().regex(/^[\w.-]+(\/[\w.-]+)+$/, {
    message: 'must be "owner/repository", such as "my-org/orders-api"',
  }),
  /** @default "main" */
  branch,
});

export const sourceSchema = z.discriminatedUnion(
  'provider',
  [codeCommitSourceSchema, connectionSourceSchema],
  {
    error: (issue) =>
      issue.code === 'invalid_union'
        ? `provider must be one of ${['CodeCommit', ...CONNECTION_PROVIDERS].map((p) => `"${p}"`).join(', ')} (leave it out for CodeCommit)`
        : undefined,
  },
);

export type SourceInput = z.input<typeof sourceSchema>;

/** The source with its defaults applied. */
export type SourceConfig =
  | {
      readonly kind: 'codecommit';
      readonly repositoryName: string;
      readonly branch: string;
      readonly create: boolean;
    }
  | {
      readonly kind: 'connection';
      readonly provider: ConnectionProvider;
      readonly connectionArn: string;
      readonly repository: string;
      readonly branch: string;
    };

export function resolveSource(
  input: SourceInput,
  defaults: { branch: string; create: boolean; repositoryName: string },
): SourceConfig {
  if (!('connectionArn' in input)) {
    return {
      kind: 'codecommit',
      repositoryName: input.repositoryName ?? defaults.repositoryName,
      branch: input.branch ?? defaults.branch,
      create: input.create ?? defaults.create,
    };
  }
  return {
    kind: 'connection',
    provider: input.provider,
    connectionArn: input.connectionArn,
    repository: input.repository,
    branch: input.branch ?? defaults.branch,
  };
}

/** The parts of a connection ARN, or undefined when it does not have the shape. */
export function parseConnectionArn(
  arn: string,
): { partition: string; region: string; account: string } | undefined {
  const m = CONNECTION_ARN.exec(arn);
  return m ? { partition: m[1], region: m[3], account: m[4] } : undefined;
}

/**
 * Rules across `source` and `pipeline` of the raw input (each part parsed on its own, so they run
 * beside the schema's problems): a connection's ARN must name a real region of the pipeline's
 * partition; CodePipeline cannot use a connection of another partition.
 */
export function checkSource(raw: unknown): { path: string; message: string }[] {
  const root = raw !== null && typeof raw === 'object' ? (raw as Record<string, unknown>) : {};
  const source = connectionSourceSchema.safeParse(root.source);
  if (!source.success) return [];
  const arn = parseConnectionArn(source.data.connectionArn);
  if (!arn) return [];
  const problems: { path: string; message: string }[] = [];
  const path = 'source.connectionArn';
  if (!AWS_REGIONS.includes(arn.region)) {
    problems.push({ path, message: `the ARN's region "${arn.region}" is not an AWS region` });
    return problems;
  }
  const regionPartition = RegionInfo.get(arn.region).partition;
  if (regionPartition !== arn.partition) {
    problems.push({
      path,
      message: `the ARN says partition "${arn.partition}" but its region ${arn.region} is in "${regionPartition}"`,
    });
  }
  const pipeline =
    root.pipeline !== null && typeof root.pipeline === 'object'
      ? (root.pipeline as Record<string, unknown>)
      : {};
  if (typeof pipeline.region === 'string' && AWS_REGIONS.includes(pipeline.region)) {
    const pipelinePartition = RegionInfo.get(pipeline.region).partition;
    if (pipelinePartition !== arn.partition) {
      problems.push({
        path,
        message: `the connection is in partition "${arn.partition}", but the pipeline (pipeline.region "${pipeline.region}") is in "${pipelinePartition}"; create the connection in the pipeline's partition`,
      });
    }
  }
  return problems;
}
