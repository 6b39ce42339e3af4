import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parse } from 'yaml';
import { REPO_ROOT } from '../support/paths';

/**
 * Runs buildspec.yml's commands the way CodeBuild does (phases in order, one bash shell, variables
 * carried between commands), with stand-in `aws` and `docker` on PATH that record their arguments.
 */
interface BuildSpec {
  env: { variables: Record<string, string> };
  phases: Record<'pre_build' | 'build' | 'post_build', { commands: string[] }>;
}
const spec = parse(fs.readFileSync(path.join(REPO_ROOT, 'buildspec.yml'), 'utf8')) as BuildSpec;

/**
 * What the stand-in `aws ecr describe-images` answers, as the AWS CLI does: exit 0 with the image,
 * or exit 254 with the service's error on stderr (https://docs.aws.amazon.com/cli/latest/userguide/cli-usage-returncodes.html;
 * ECR's error codes: https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_DescribeImages.html#API_DescribeImages_Errors).
 */
type DescribeImages = 'exists' | 'missing' | 'denied' | 'throttled';
const DESCRIBE_ERRORS: Record<Exclude<DescribeImages, 'exists'>, string> = {
  missing:
    "An error occurred (ImageNotFoundException) when calling the DescribeImages operation: The image with imageId {imageDigest:'null', imageTag:'app-0123456789abcdef'} does not exist within the repository with name 'hello-web' in the registry with id '111111111111'",
  denied:
    'An error occurred (AccessDeniedException) when calling the DescribeImages operation: User: arn:aws:sts::111111111111:assumed-role/build/x is not authorized to perform: ecr:DescribeImages',
  throttled:
    'An error occurred (ThrottlingException) when calling the DescribeImages operation (reached max retries: 2): Rate exceeded',
};

function runBuildSpec(
  describe: DescribeImages | boolean,
  extraEnv: Record<string, string> = {},
): {
  status: number | null;
  calls: string[];
  out: string;
} {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'buildspec-'));
  const bin = path.join(dir, 'bin');
  fs.mkdirSync(bin);
  const log = path.join(dir, 'calls.log');
  const stub = (name: string, body: string) =>
    fs.writeFileSync(
      path.join(bin, name),
      `#!/usr/bin/env bash\necho "${name} $*" >> "${log}"\n${body}\n`,
      { mode: 0o755 },
    );
  const answer: DescribeImages =
    describe === true ? 'exists' : describe === false ? 'missing' : describe;
  const describeImages =
    answer === 'exists'
      ? 'echo \'{"imageDetails": [{}]}\'; exit 0'
      : `echo "${DESCRIBE_ERRORS[answer]}" >&2; exit 254`;
  stub(
    'aws',
    `if [ "$2" = "describe-images" ]; then ${describeImages}; fi\nif [ "$2" = "get-login-password" ]; then echo secret; fi`,
  );
  stub('docker', 'cat > /dev/null 2>&1 || true');
  fs.mkdirSync(path.join(dir, 'cdk.out'));
  fs.writeFileSync(
    path.join(dir, 'cdk.out', 'image.json'),
    JSON.stringify({ repositoryName: 'hello-web', tag: 'app-0123456789abcdef' }),
  );
  // the bundled backfill tool (npm run bundle:tools puts it in the cloud assembly): records its arguments
  fs.mkdirSync(path.join(dir, 'cdk.out', 'tools'));
  fs.writeFileSync(
    path.join(dir, 'cdk.out', 'tools', 'image-backfill.cjs'),
    `require('fs').appendFileSync(${JSON.stringify(log)}, 'image-backfill ' + process.argv.slice(2).join(' ') + '\\n');`,
  );

  // CodeBuild stops a phase at its first failing command and sets CODEBUILD_BUILD_SUCCEEDING to 0;
  // after a failed pre_build the build phase does not run; post_build runs after a failed build.
  // (https://docs.aws.amazon.com/codebuild/latest/userguide/view-build-details-phases.html)
  const phase = (name: 'pre_build' | 'build') =>
    `if [ "$CODEBUILD_BUILD_SUCCEEDING" = 1 ]; then\n${spec.phases[name].commands.map((c) => `if [ "$CODEBUILD_BUILD_SUCCEEDING" = 1 ]; then\n${c}\n[ $? -eq 0 ] || export CODEBUILD_BUILD_SUCCEEDING=0\nfi`).join('\n')}\nfi`;
  // post_build runs whatever happened before, and stops at its own first failing command
  const postBuild = `post_ok=1\n${spec.phases.post_build.commands.map((c) => `if [ "$post_ok" = 1 ]; then\n${c}\n[ $? -eq 0 ] || { post_ok=0; export CODEBUILD_BUILD_SUCCEEDING=0; }\nfi`).join('\n')}\n[ "$CODEBUILD_BUILD_SUCCEEDING" = 1 ]`;
  const script = [phase('pre_build'), phase('build'), postBuild].join('\n');
  const r = spawnSync('bash', ['-c', script], {
    cwd: dir,
    encoding: 'utf8',
    env: {
      PATH: `${bin}:${process.env.PATH}`,
      ...spec.env.variables,
      REPOSITORY_URI: '111111111111.dkr.ecr.eu-west-1.amazonaws.com/hello-web',
      IMAGE_ARTIFACT: 'cdk.out/image.json',
      TARGET_PLATFORM: 'linux/arm64',
      APP_DIR: 'app',
      AWS_REGION: 'eu-west-1',
      CODEBUILD_RESOLVED_SOURCE_VERSION: 'abc1234',
      CODEBUILD_BUILD_SUCCEEDING: '1',
      ...extraEnv,
    },
  });
  const calls = fs.existsSync(log) ? fs.readFileSync(log, 'utf8').trim().split('\n') : [];
  return { status: r.status, calls, out: r.stdout + r.stderr };
}

test('a new tag: logs in to ECR, builds app/ with the Dockerfile for the target platform, stamps version and commit, pushes that tag', () => {
  const r = runBuildSpec(false);
  expect(r.status).toBe(0);
  const login = r.calls.findIndex((c) =>
    c.startsWith(
      'docker login --username AWS --password-stdin 111111111111.dkr.ecr.eu-west-1.amazonaws.com',
    ),
  );
  const build = r.calls.findIndex((c) => c.startsWith('docker build'));
  const push = r.calls.findIndex(
    (c) =>
      c ===
      'docker push 111111111111.dkr.ecr.eu-west-1.amazonaws.com/hello-web:app-0123456789abcdef',
  );
  expect(login).toBeGreaterThanOrEqual(0);
  expect(build).toBeGreaterThan(login);
  expect(push).toBeGreaterThan(build);
  expect(r.calls[build]).toContain('--platform linux/arm64');
  expect(r.calls[build]).toContain('--build-arg VERSION=app-0123456789abcdef');
  expect(r.calls[build]).toContain('--build-arg COMMIT=abc1234');
  expect(r.calls[build]).toMatch(
    /--tag 111111111111\.dkr\.ecr\.eu-west-1\.amazonaws\.com\/hello-web:app-0123456789abcdef app$/,
  );
});

test('the build context is the service directory the pipeline names (service.appDir)', () => {
  const r = runBuildSpec(false, { APP_DIR: 'services/orders' });
  expect(r.status).toBe(0);
  expect(r.calls.find((c) => c.startsWith('docker build'))).toMatch(/ services\/orders$/);
});

test('without APP_DIR the build stops before anything is built, saying why', () => {
  const r = runBuildSpec(false, { APP_DIR: '' });
  expect(r.status).not.toBe(0);
  expect(r.calls.filter((c) => c.startsWith('docker'))).toEqual([]);
  expect(r.out).toMatch(/APP_DIR: is not set: the pipeline sets it from service\.appDir/);
});

test('an existing tag (immutable): nothing is built or pushed, and the step succeeds', () => {
  const r = runBuildSpec(true);
  expect(r.status).toBe(0);
  expect(
    r.calls.some((c) =>
      c.startsWith(
        'aws ecr describe-images --repository-name hello-web --image-ids imageTag=app-0123456789abcdef',
      ),
    ),
  ).toBe(true);
  expect(
    r.calls.filter((c) => c.startsWith('docker build') || c.startsWith('docker push')),
  ).toEqual([]);
  expect(r.out).toContain('already exists: nothing to build');
});

test('BuildKit is on (the Dockerfile cross-compiles with TARGETARCH)', () => {
  expect(spec.env.variables.DOCKER_BUILDKIT).toBe('1');
});

test('a failed build pushes nothing and fails the step', () => {
  const original = spec.phases.build.commands;
  spec.phases.build.commands = ['false'];
  try {
    const r = runBuildSpec(false);
    expect(r.status).not.toBe(0);
    expect(r.calls.some((c) => c.startsWith('docker push'))).toBe(false);
    expect(r.out).toContain('build failed: nothing pushed');
  } finally {
    spec.phases.build.commands = original;
  }
});

describe('only ImageNotFoundException means "tag missing"', () => {
  test('ImageNotFoundException: the tag is built and pushed', () => {
    const r = runBuildSpec('missing');
    expect(r.status).toBe(0);
    expect(r.calls.some((c) => c.startsWith('docker push'))).toBe(true);
  });

  test.each(['denied', 'throttled'] as const)(
    'any other describe-images failure (%s) stops the build with its message, before building',
    (answer) => {
      const r = runBuildSpec(answer);
      expect(r.status).not.toBe(0);
      expect(
        r.calls.filter((c) => c.startsWith('docker build') || c.startsWith('docker push')),
      ).toEqual([]);
      expect(r.out).toContain(DESCRIBE_ERRORS[answer]);
      expect(r.out).not.toContain('already exists');
    },
  );
});

describe('backfill: after the push, every replica region holds the tag (tools/image-backfill)', () => {
  const BACKFILL = {
    BACKFILL_REGIONS: 'us-east-1,ap-southeast-2',
    BACKFILL_REGISTRY_ID: '111111111111',
    BACKFILL_TIMEOUT: '1800',
  };
  const backfills = (calls: string[]) => calls.filter((c) => c.startsWith('image-backfill '));

  test('a new tag: pushed, then copied to the replica regions, with the pushed tag', () => {
    const r = runBuildSpec(false, BACKFILL);
    expect(r.status).toBe(0);
    const push = r.calls.findIndex((c) => c.startsWith('docker push'));
    const backfill = r.calls.findIndex((c) => c.startsWith('image-backfill '));
    expect(backfill).toBeGreaterThan(push);
    expect(push).toBeGreaterThanOrEqual(0);
    expect(r.calls[backfill]).toBe(
      'image-backfill --repository hello-web --tag-file cdk.out/image.json --source-region eu-west-1 --regions us-east-1,ap-southeast-2 --registry-id 111111111111 --timeout 1800',
    );
  });

  test('an existing tag: nothing is built, and a region added since still gets the image', () => {
    const r = runBuildSpec(true, BACKFILL);
    expect(r.status).toBe(0);
    expect(backfills(r.calls)).toHaveLength(1);
  });

  test('a failed build copies nothing and fails the step', () => {
    const original = spec.phases.build.commands;
    spec.phases.build.commands = ['false'];
    try {
      const r = runBuildSpec(false, BACKFILL);
      expect(r.status).not.toBe(0);
      expect(backfills(r.calls)).toEqual([]);
    } finally {
      spec.phases.build.commands = original;
    }
  });

  test('no replica regions: no backfill', () => {
    const r = runBuildSpec(false);
    expect(r.status).toBe(0);
    expect(backfills(r.calls)).toEqual([]);
  });
});
