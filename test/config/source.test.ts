import { type DeliveryConfigInput, STACK_ENVIRONMENTS, validateConfig } from '../../lib/config';
import { problems } from '../support/config';

const ARN =
  'arn:aws:codeconnections:eu-west-1:111111111111:connection/0123abcd-0123-4567-89ab-0123456789ab';
const withSource = (
  source: Record<string, unknown>,
  pipelineRegion = 'eu-west-1',
): DeliveryConfigInput => ({
  ...STACK_ENVIRONMENTS,
  pipeline: { account: '111111111111', region: pipelineRegion },
  source,
});

describe('a CodeConnections source (GitHub, GitLab, Bitbucket) beside CodeCommit', () => {
  test.each(['GitHub', 'GitLab', 'Bitbucket'])(
    '%s with a connection ARN, owner/repository and branch resolves to a connection source',
    (provider) => {
      const cfg = validateConfig(
        withSource({
          provider,
          connectionArn: ARN,
          repository: 'my-org/hello-web',
          branch: 'release',
        }),
      );
      expect(cfg.source).toEqual({
        kind: 'connection',
        provider,
        connectionArn: ARN,
        repository: 'my-org/hello-web',
        branch: 'release',
      });
    },
  );

  test('the branch defaults to main; the older codestar-connections ARN is accepted', () => {
    const old =
      'arn:aws:codestar-connections:eu-west-1:111111111111:connection/0123abcd-0123-4567-89ab-0123456789ab';
    expect(
      validateConfig(
        withSource({ provider: 'GitLab', connectionArn: old, repository: 'group/sub/project' }),
      ).source,
    ).toMatchObject({ kind: 'connection', branch: 'main', connectionArn: old });
  });

  test('a config without "provider" is CodeCommit, as before', () => {
    expect(validateConfig(withSource({ repositoryName: 'hello-web' })).source).toEqual({
      kind: 'codecommit',
      repositoryName: 'hello-web',
      branch: 'main',
      create: true,
    });
    expect(
      validateConfig(
        withSource({ provider: 'CodeCommit', repositoryName: 'hello-web', create: false }),
      ).source,
    ).toMatchObject({ kind: 'codecommit', create: false });
  });
});

describe('every problem of a source is reported with its path', () => {
  test.each([
    [
      'an ARN of another service',
      {
        provider: 'GitHub',
        connectionArn: 'arn:aws:codecommit:eu-west-1:111111111111:hello-web',
        repository: 'o/r',
      },
      /^source\.connectionArn: must be a CodeConnections ARN/,
    ],
    [
      'an ARN without a connection id',
      {
        provider: 'GitHub',
        connectionArn: 'arn:aws:codeconnections:eu-west-1:111111111111:connection/',
        repository: 'o/r',
      },
      /^source\.connectionArn: must be a CodeConnections ARN/,
    ],
    [
      'a host ARN, not a connection',
      {
        provider: 'GitHub',
        connectionArn: 'arn:aws:codeconnections:eu-west-1:111111111111:host/abc-0123abcd',
        repository: 'o/r',
      },
      /^source\.connectionArn: must be a CodeConnections ARN/,
    ],
    [
      'a repository without its owner',
      { provider: 'GitHub', connectionArn: ARN, repository: 'hello-web' },
      /^source\.repository: must be "owner\/repository"/,
    ],
    [
      'an unknown provider',
      { provider: 'Gitea', connectionArn: ARN, repository: 'o/r' },
      /^source\.provider: provider must be one of "CodeCommit", "GitHub", "GitLab", "Bitbucket"/,
    ],
    [
      'a CodeCommit key in a connection source',
      { provider: 'GitHub', connectionArn: ARN, repository: 'o/r', repositoryName: 'x' },
      /^source: unknown key "repositoryName"/,
    ],
    [
      'a connection key in a CodeCommit source',
      { repositoryName: 'hello-web', connectionArn: ARN },
      /^source: unknown key "connectionArn"/,
    ],
    [
      'a connection source without its ARN',
      { provider: 'Bitbucket', repository: 'o/r' },
      /^source\.connectionArn: is required/,
    ],
    [
      'an ARN whose region is not a region',
      {
        provider: 'GitHub',
        connectionArn: ARN.replace('eu-west-1', 'eu-west-9'),
        repository: 'o/r',
      },
      /^source\.connectionArn: the ARN's region "eu-west-9" is not an AWS region/,
    ],
    [
      'an ARN whose partition does not match its region',
      {
        provider: 'GitHub',
        connectionArn: ARN.replace('arn:aws:', 'arn:aws-cn:'),
        repository: 'o/r',
      },
      /^source\.connectionArn: the ARN says partition "aws-cn" but its region eu-west-1 is in "aws"/,
    ],
  ])('%s', (_name, source, expected) => {
    const found = problems(withSource(source));
    expect(found).toEqual(expect.arrayContaining([expect.stringMatching(expected)]));
  });

  test("a connection in another partition than the pipeline's", () => {
    const cn =
      'arn:aws-cn:codeconnections:cn-north-1:111111111111:connection/0123abcd-0123-4567-89ab-0123456789ab';
    expect(
      problems(withSource({ provider: 'GitHub', connectionArn: cn, repository: 'o/r' })),
    ).toContainEqual(
      expect.stringMatching(
        /^source\.connectionArn: the connection is in partition "aws-cn", but the pipeline \(pipeline\.region "eu-west-1"\) is in "aws"/,
      ),
    );
  });

  test('source problems are reported beside the others in one run', () => {
    const raw = {
      ...withSource({ provider: 'GitHub', connectionArn: 'nope', repository: 'o/r' }),
      preprod: { account: '1', region: 'eu-west-1' },
    };
    expect(problems(raw).map((p) => p.split(':')[0])).toEqual(
      expect.arrayContaining(['source.connectionArn', 'preprod.account']),
    );
  });
});

describe('source.repository is checked as each provider names repositories', () => {
  // The CodeConnections source action takes FullRepositoryId "owner/name" and finds nothing for a
  // name the provider could never have created; the pipeline would wait for a source forever.
  //   GitHub: owner (user or organization) of letters, digits and "-" (and "_" for Enterprise
  //     Managed Users), neither starting nor ending with "-", at most 39; repository names of
  //     ASCII letters, digits, ".", "_", "-", at most 100, never "." or "..", and GitHub removes a
  //     ".git" suffix and refuses ".wiki":
  //     https://docs.github.com/en/enterprise-cloud@latest/admin/managing-iam/iam-configuration-reference/username-considerations-for-external-authentication
  //     https://docs.github.com/en/repositories/creating-and-managing-repositories/creating-a-new-repository
  //     https://github.com/github/docs/issues/44518 (the limits GitHub's forms enforce)
  //   Bitbucket Cloud: workspace ID of lowercase letters, digits, "-" and "_"; repository slug of
  //     ASCII letters, digits, "_", "-", ".", at most 62:
  //     https://support.atlassian.com/bitbucket-cloud/docs/what-is-a-slug/
  //   GitLab: group/subgroup(s)/project, each slug of letters, digits, "_", "-", "." that starts
  //     with a letter, digit or "_", and does not end in "." ".git" or ".atom":
  //     https://docs.gitlab.com/user/reserved_names/
  const connection = (provider: string, repository: string) =>
    withSource({ provider, connectionArn: ARN, repository });

  test.each([
    ['GitHub', 'org/sub/repo', /GitHub names a repository "owner\/repository"; got 3 parts/],
    [
      'Bitbucket',
      'org/sub/repo',
      /Bitbucket names a repository "workspace\/repository"; got 3 parts/,
    ],
    ['GitHub', 'my-org/..', /repository name "\.\." /],
    ['GitLab', 'my-org/..', /project ".\." /],
    ['Bitbucket', 'my-org/.', /repository slug "\." /],
    ['GitHub', '-org/repo', /owner "-org" /],
    ['GitHub', 'org-/repo', /owner "org-" /],
    ['GitHub', `${'o'.repeat(40)}/repo`, /owner ".*" .*at most 39/],
    ['GitHub', `org/${'r'.repeat(101)}`, /at most 100/],
    ['Bitbucket', `workspace/${'r'.repeat(63)}`, /at most 62/],
    ['Bitbucket', 'Work-Space/repo', /workspace "Work-Space" /],
    ['GitLab', 'group/project.git', /project "project\.git" /],
    ['GitLab', 'group/-sub/project', /group "-sub" /],
    ['GitHub', 'org//repo', /empty part/],
    ['GitHub', 'org/repo.git', /repository name "repo\.git" .*\.git/],
  ])('%s %s is refused at source.repository', (provider, repository, expected) => {
    const found = problems(connection(provider, repository));
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(/^source\.repository: /);
    expect(found[0]).toMatch(expected);
  });

  test.each([
    ['GitHub', 'my-org/hello-web'],
    ['GitHub', 'My-Org/Hello.Web_2'],
    ['GitHub', 'a/b'],
    ['GitHub', 'octo-cat/.github'],
    ['GitHub', 'jdoe_acme/hello-web'],
    ['Bitbucket', 'my_workspace/hello-web.service'],
    ['GitLab', 'group/sub/deeper/project'],
    ['GitLab', 'group/_private-project'],
  ])('%s %s is accepted', (provider, repository) => {
    expect(problems(connection(provider, repository))).toEqual([]);
  });
});
