import {
  ConfigError,
  type DeliveryConfigInput,
  STACK_ENVIRONMENTS,
  validateConfig,
} from '../../lib/config';

/** The problems validation reports for a config, as "path: message" lines. */
function problems(raw: unknown): string[] {
  try {
    validateConfig(raw);
  } catch (e) {
    if (e instanceof ConfigError) return e.problems.map((p) => `${p.path}: ${p.message}`);
    throw e;
  }
  return [];
}

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
