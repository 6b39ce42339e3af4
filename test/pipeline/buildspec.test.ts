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

function runBuildSpec(imageExists: boolean): { status: number | null; calls: string[]; out: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'buildspec-'));
  const bin = path.join(dir, 'bin');
  fs.mkdirSync(bin);
  const log = path.join(dir, 'calls.log');
  const stub = (name: string, body: string) => fs.writeFileSync(path.join(bin, name), `#!/usr/bin/env bash\necho "${name} $*" >> "${log}"\n${body}\n`, { mode: 0o755 });
  stub('aws', `if [ "$2" = "describe-images" ]; then exit ${imageExists ? 0 : 254}; fi\nif [ "$2" = "get-login-password" ]; then echo secret; fi`);
  stub('docker', 'cat > /dev/null 2>&1 || true');
  fs.mkdirSync(path.join(dir, 'cdk.out'));
  fs.writeFileSync(path.join(dir, 'cdk.out', 'image.json'), JSON.stringify({ repositoryName: 'hello-web', tag: 'app-0123456789abcdef' }));

  const phases = (['pre_build', 'build'] as const).flatMap((p) => spec.phases[p].commands);
  // CodeBuild sets CODEBUILD_BUILD_SUCCEEDING to 0 once a build command failed, then runs post_build.
  const script = [...phases.map((c) => `${c}\n[ $? -eq 0 ] || export CODEBUILD_BUILD_SUCCEEDING=0`), ...spec.phases.post_build.commands].join('\n');
  const r = spawnSync('bash', ['-c', script], {
    cwd: dir,
    encoding: 'utf8',
    env: {
      PATH: `${bin}:${process.env.PATH}`,
      ...spec.env.variables,
      REPOSITORY_URI: '111111111111.dkr.ecr.eu-west-1.amazonaws.com/hello-web',
      IMAGE_ARTIFACT: 'cdk.out/image.json',
      TARGET_PLATFORM: 'linux/arm64',
      AWS_REGION: 'eu-west-1',
      CODEBUILD_RESOLVED_SOURCE_VERSION: 'abc1234',
      CODEBUILD_BUILD_SUCCEEDING: '1',
    },
  });
  const calls = fs.existsSync(log) ? fs.readFileSync(log, 'utf8').trim().split('\n') : [];
  return { status: r.status, calls, out: r.stdout + r.stderr };
}

test('a new tag: logs in to ECR, builds app/ with the Dockerfile for the target platform, stamps version and commit, pushes that tag', () => {
  const r = runBuildSpec(false);
  expect(r.status).toBe(0);
  const login = r.calls.findIndex((c) => c.startsWith('docker login --username AWS --password-stdin 111111111111.dkr.ecr.eu-west-1.amazonaws.com'));
  const build = r.calls.findIndex((c) => c.startsWith('docker build'));
  const push = r.calls.findIndex((c) => c === 'docker push 111111111111.dkr.ecr.eu-west-1.amazonaws.com/hello-web:app-0123456789abcdef');
  expect(login).toBeGreaterThanOrEqual(0);
  expect(build).toBeGreaterThan(login);
  expect(push).toBeGreaterThan(build);
  expect(r.calls[build]).toContain('--platform linux/arm64');
  expect(r.calls[build]).toContain('--build-arg VERSION=app-0123456789abcdef');
  expect(r.calls[build]).toContain('--build-arg COMMIT=abc1234');
  expect(r.calls[build]).toMatch(/--tag 111111111111\.dkr\.ecr\.eu-west-1\.amazonaws\.com\/hello-web:app-0123456789abcdef app$/);
});

test('an existing tag (immutable): nothing is built or pushed, and the step succeeds', () => {
  const r = runBuildSpec(true);
  expect(r.status).toBe(0);
  expect(r.calls.some((c) => c.startsWith('aws ecr describe-images --repository-name hello-web --image-ids imageTag=app-0123456789abcdef'))).toBe(true);
  expect(r.calls.filter((c) => c.startsWith('docker build') || c.startsWith('docker push'))).toEqual([]);
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
