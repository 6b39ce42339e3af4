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
  /**
   * "owner/repository" as the provider names it (Bitbucket: "workspace/repository", GitLab:
   * "group/subgroup/project"); checked per provider by `repositoryProblem`. Required.
   */
  repository: z.string(),
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

/** GitHub owner (user or organization; "_" for Enterprise Managed Users), without its length. */
const GITHUB_OWNER = /^[A-Za-z0-9](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?$/;
/** Repository names of GitHub and slugs of Bitbucket: ASCII letters, digits, ".", "_", "-". */
const REPOSITORY_NAME = /^[A-Za-z0-9._-]+$/;
const BITBUCKET_WORKSPACE = /^[a-z0-9_-]+$/;
const GITLAB_SLUG = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/;

/**
 * Why `repository` cannot name a repository of `provider`, or undefined. The CodeConnections
 * source action takes it as FullRepositoryId and never finds a repository the provider could not
 * have created: the pipeline would wait for its source forever. Each provider's naming rules:
 * - GitHub: "owner/repository"; owner of letters, digits, "-" ("_" for Enterprise Managed Users),
 *   neither starting nor ending with "-", at most 39; repository of ASCII letters, digits, ".",
 *   "_", "-", at most 100, not "." or "..", and no ".git" (GitHub removes it) or ".wiki" (refused)
 *   ending. https://docs.github.com/en/repositories/creating-and-managing-repositories/creating-a-new-repository,
 *   https://docs.github.com/en/enterprise-cloud@latest/admin/managing-iam/iam-configuration-reference/username-considerations-for-external-authentication,
 *   https://github.com/github/docs/issues/44518
 * - Bitbucket Cloud: "workspace/repository"; workspace ID of lowercase letters, digits, "-", "_";
 *   repository slug of ASCII letters, digits, "_", "-", ".", at most 62, no "--", no "-" at the end.
 *   https://support.atlassian.com/bitbucket-cloud/docs/what-is-a-slug/
 * - GitLab: "group/subgroup.../project"; each slug of letters, digits, "_", "-", ".", starting with
 *   a letter, digit or "_" (older projects may start with "_"), not ending in ".", ".git", ".atom".
 *   https://docs.gitlab.com/user/reserved_names/
 * Where a provider has relaxed its rules over time, what it accepted before is accepted here too
 * (docs/decisions/0033-config-values-aws-accepts.md).
 */
export function repositoryProblem(
  provider: ConnectionProvider,
  repository: string,
): string | undefined {
  const parts = repository.split('/');
  const count = `got ${parts.length} part${parts.length === 1 ? '' : 's'}`;
  if (parts.length > 1 && parts.some((p) => p === ''))
    return `must not have an empty part between "/", got ${JSON.stringify(repository)}`;
  if (provider === 'GitLab') {
    if (parts.length < 2)
      return `must be "group/project" (with any subgroups between), such as "my-group/my-project"; ${count}`;
    for (const [i, part] of parts.entries()) {
      const what = i === parts.length - 1 ? 'project' : 'group';
      if (!GITLAB_SLUG.test(part) || /(\.|\.git|\.atom)$/.test(part))
        return `${what} ${JSON.stringify(part)} must be letters, digits, "_", "-" and ".", starting with a letter, digit or "_", and not ending in ".", ".git" or ".atom" (GitLab's path rules)`;
    }
    return undefined;
  }
  const ownerWord = provider === 'GitHub' ? 'owner' : 'workspace';
  if (parts.length !== 2)
    return `must be "${ownerWord}/repository": ${provider} names a repository "${ownerWord}/repository"; ${count}`;
  const [owner, name] = parts;
  const dots = name === '.' || name === '..';
  if (provider === 'GitHub') {
    if (owner.length > 39 || !GITHUB_OWNER.test(owner))
      return `owner ${JSON.stringify(owner)} must be at most 39 letters, digits, "-" (and "_" of an Enterprise Managed User), neither starting nor ending with "-"`;
    if (name.length > 100 || !REPOSITORY_NAME.test(name) || dots || /\.(git|wiki)$/i.test(name))
      return `repository name ${JSON.stringify(name)} must be at most 100 ASCII letters, digits, ".", "_" and "-", not "." or "..", and not end in ".git" (GitHub removes it) or ".wiki" (GitHub refuses it)`;
    return undefined;
  }
  if (!BITBUCKET_WORKSPACE.test(owner))
    return `workspace ${JSON.stringify(owner)} must be a Bitbucket workspace ID: lowercase letters, digits, "-" and "_"`;
  if (name.length > 62 || !REPOSITORY_NAME.test(name) || dots || /--|-$/.test(name))
    return `repository slug ${JSON.stringify(name)} must be at most 62 ASCII letters, digits, "_", "-" and ".", not "." or "..", without "--" or a "-" at the end (Bitbucket Cloud's slug rules)`;
  return undefined;
}

/**
 * Rules across `source` and `pipeline` of the raw input (each part parsed on its own, so they run
 * beside the schema's problems): a connection's ARN must name a real region of the pipeline's
 * partition; CodePipeline cannot use a connection of another partition.
 */
export function checkSource(raw: unknown): { path: string; message: string }[] {
  const root = raw !== null && typeof raw === 'object' ? (raw as Record<string, unknown>) : {};
  const rawSource =
    root.source !== null && typeof root.source === 'object'
      ? (root.source as Record<string, unknown>)
      : {};
  const provider = CONNECTION_PROVIDERS.find((p) => p === rawSource.provider);
  const repository = rawSource.repository;
  const repositoryIssue =
    provider !== undefined && typeof repository === 'string'
      ? repositoryProblem(provider, repository)
      : undefined;
  const repositoryProblems =
    repositoryIssue === undefined ? [] : [{ path: 'source.repository', message: repositoryIssue }];
  const source = connectionSourceSchema.safeParse(root.source);
  if (!source.success) return repositoryProblems;
  const arn = parseConnectionArn(source.data.connectionArn);
  if (!arn) return repositoryProblems;
  const problems: { path: string; message: string }[] = [...repositoryProblems];
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
