import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CodePipelineSource } from 'aws-cdk-lib/pipelines';
import { BUILD_CACHE_DIRS, BUILD_CACHE_PREFIX, buildStep } from '../../lib/pipeline/build-step';
import { REPO_ROOT } from '../support/paths';
import { allEnvironments } from '../../lib/config';
import { type Synthesized, pipelineStages, synthesize } from '../support/synth';

/** What gates a release: the Build step runs the Go service's checks and the manifest validator before anything is built or deployed. */
let s: Synthesized;
let project: {
  Properties: { Source: { BuildSpec: string }; Cache: { Type: string; Location?: unknown } };
};
let spec: {
  phases: Record<string, { commands?: string[] }>;
  env: { variables: Record<string, string> };
  cache?: { paths: string[] };
};
beforeAll(() => {
  s = synthesize();
  const projects = Object.values(s.pipeline.findResources('AWS::CodeBuild::Project')) as Array<
    typeof project
  >;
  project = projects.find((p) => p.Properties.Source.BuildSpec.includes('cdk synth'))!;
  spec = JSON.parse(project.Properties.Source.BuildSpec) as typeof spec;
});

test('the Build stage comes before every stage that builds or deploys', () => {
  const names = pipelineStages(s.pipeline).map((st) => st.name);
  expect(names.slice(0, 2)).toEqual(['Source', 'Build']);
});

test('the Build step runs the release checks (Go vet, race tests, staticcheck, manifest validator) first, then the unit tests, then synth', () => {
  const commands = spec.phases.build.commands!;
  const at = (needle: string) => commands.findIndex((c) => c.includes(needle));
  expect(at('bash scripts/release-checks.sh')).toBe(0);
  expect(at('npm run test:unit')).toBeGreaterThan(at('bash scripts/release-checks.sh'));
  expect(at('npx cdk synth')).toBeGreaterThan(at('npm run test:unit'));
  const script = fs.readFileSync(path.join(REPO_ROOT, 'scripts', 'release-checks.sh'), 'utf8');
  expect(script).toContain('bash "$app_dir/scripts/test.sh"');
  expect(script).toContain('tools/dev/k8s-validate/run.sh');
  const appChecks = fs.readFileSync(path.join(REPO_ROOT, 'app', 'scripts', 'test.sh'), 'utf8');
  for (const check of ['go vet', 'go test -race', 'scripts/lint.sh'])
    expect(appChecks).toContain(check);
});

test("cfn-lint checks every synthesized template right after the synth (CDK's built-in validation is off: ADR 0019)", () => {
  const commands = spec.phases.build.commands!;
  const synth = commands.findIndex((c) => c.startsWith('npx cdk synth'));
  expect(commands[synth + 1]).toBe('bash scripts/cfn-lint.sh cdk.out');
});

test('npm, pip and Go build and module caches are kept in S3 between runs, at the paths the tools use', () => {
  expect(project.Properties.Cache.Type).toBe('S3');
  expect(JSON.stringify(project.Properties.Cache.Location)).toContain(BUILD_CACHE_PREFIX);
  const vars = spec.env.variables;
  expect([vars.npm_config_cache, vars.PIP_CACHE_DIR, vars.GOCACHE, vars.GOMODCACHE].sort()).toEqual(
    Object.values(BUILD_CACHE_DIRS).sort(),
  );
  expect(spec.cache!.paths.sort()).toEqual(
    Object.values(BUILD_CACHE_DIRS)
      .map((d) => `${d}/**/*`)
      .sort(),
  );
});

test('old copies of the cache (rewritten on every run) do not pile up in the versioned artifact bucket', () => {
  const bucket = Object.values(s.pipeline.findResources('AWS::S3::Bucket')).find((b) =>
    JSON.stringify(b).includes('aws:kms'),
  ) as {
    Properties: {
      LifecycleConfiguration: {
        Rules: Array<{ Prefix?: string; NoncurrentVersionExpiration?: { NoncurrentDays: number } }>;
      };
    };
  };
  const rule = bucket.Properties.LifecycleConfiguration.Rules.find(
    (r) => r.Prefix === `${BUILD_CACHE_PREFIX}/`,
  );
  expect(rule?.NoncurrentVersionExpiration?.NoncurrentDays).toBe(1);
});

test('the config file the pipeline was deployed with reaches the synth and the manifest checks', () => {
  const withFile = synthesizeCommands('config/example-multi-region.json');
  // quoted: the path goes into a shell (lib/pipeline/shell-quote.ts)
  expect(withFile).toContain(
    "bash scripts/release-checks.sh --config 'config/example-multi-region.json'",
  );
  expect(withFile).toContain("npx cdk synth -c 'config=config/example-multi-region.json'");
  // the rollback guard and node-updates read pipeline.requireRollbackTarget, names and regions from it
  expect(withFile.find((c) => c.includes('rollback-guard'))).toMatch(
    /--config 'config\/example-multi-region.json'$/,
  );
  expect(withFile.find((c) => c.includes('node-ami-signal'))).toMatch(
    /--config 'config\/example-multi-region.json'$/,
  );
});

function synthesizeCommands(configFile: string): string[] {
  // Only the build step's definition: no second app synth.
  return buildStep({
    input: CodePipelineSource.gitHub('o/r', 'main'),
    configFile,
    reads: {
      account: '111111111111',
      region: 'eu-west-1',
      pipelineName: 'p',
      pipelineStackName: 'p-pipeline',
      repositoryArn: 'arn:aws:ecr:eu-west-1:111111111111:repository/r',
      environmentRegions: ['eu-west-1'],
    },
  }).commands;
}

describe('scripts/release-checks.sh stops at the first failure (stand-in go and npx)', () => {
  /** A copy of the scripts it runs, with `go` and `npx` on PATH recording their calls. */
  function run(opts: {
    goFails?: string;
    validatorFinds?: boolean;
    appDir?: string;
    withoutServiceChecks?: boolean;
  }): {
    status: number | null;
    calls: string[];
    out: string;
  } {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'release-checks-'));
    for (const rel of [
      'scripts/release-checks.sh',
      'app/scripts/test.sh',
      'app/scripts/lint.sh',
      'tools/dev/k8s-validate/run.sh',
    ]) {
      if (opts.withoutServiceChecks && rel.startsWith('app/')) continue;
      const to = rel.replace(/^app\//, `${opts.appDir ?? 'app'}/`);
      fs.mkdirSync(path.dirname(path.join(dir, to)), { recursive: true });
      fs.copyFileSync(path.join(REPO_ROOT, rel), path.join(dir, to));
    }
    const bin = path.join(dir, 'stub-bin');
    fs.mkdirSync(bin);
    const log = path.join(dir, 'calls.log');
    const validator = opts.validatorFinds ? 'echo "finding: runAsNonRoot"; exit 1' : 'exit 0';
    fs.writeFileSync(
      path.join(bin, 'go'),
      `#!/usr/bin/env bash\necho "go $*" >> "${log}"\n[ "$1" = "${opts.goFails ?? 'none'}" ] && { echo "go $1 failed" >&2; exit 1; }\nif [ "$1" = build ]; then while [ $# -gt 0 ]; do [ "$1" = -o ] && { printf '#!/usr/bin/env bash\\n${validator}\\n' > "$2"; chmod +x "$2"; }; shift; done; fi\nexit 0\n`,
      { mode: 0o755 },
    );
    fs.writeFileSync(
      path.join(bin, 'npx'),
      // scripts/service-dir.ts answers with the service's directory, as the config names it
      `#!/usr/bin/env bash\necho "npx $*" >> "${log}"\n[ "$2" = scripts/service-dir.ts ] && { echo "${opts.appDir ?? 'app'}"; exit 0; }\nwhile [ $# -gt 0 ]; do [ "$1" = --out-dir ] && echo 'kind: Deployment' > "$2/preprod-eu-west-1.yaml"; shift; done\n`,
      { mode: 0o755 },
    );
    const r = spawnSync('bash', [path.join(dir, 'scripts', 'release-checks.sh')], {
      encoding: 'utf8',
      env: { ...process.env, PATH: `${bin}:${process.env.PATH}` },
    });
    const calls = fs.existsSync(log) ? fs.readFileSync(log, 'utf8').trim().split('\n') : [];
    return { status: r.status, calls, out: r.stdout + r.stderr };
  }

  test('all checks pass: vet, race tests, staticcheck, then every rendered manifest is validated', () => {
    const r = run({});
    expect(r.status).toBe(0);
    const first = (prefix: string) => r.calls.findIndex((c) => c.startsWith(prefix));
    expect(first('npx tsx scripts/service-dir.ts')).toBe(0);
    expect(first('go vet')).toBe(1);
    expect(first('go test -race')).toBeGreaterThan(first('go vet'));
    expect(r.calls[first('go run')]).toContain('staticcheck');
    expect(first('npx tsx tools/dev/manifests.ts --out-dir')).toBeGreaterThan(first('go run'));
    expect(r.out).toContain('k8s-validate preprod-eu-west-1.yaml');
  });

  test.each(['vet', 'test', 'run'])(
    'go %s fails: the script fails and nothing after it runs',
    (sub) => {
      const r = run({ goFails: sub });
      expect(r.status).not.toBe(0);
      expect(r.calls[r.calls.length - 1]).toMatch(new RegExp(`^go ${sub}`));
      expect(r.calls.some((c) => c.startsWith('npx tsx tools/dev/manifests.ts'))).toBe(false);
    },
  );

  test("the service's own checks run from its directory (service.appDir)", () => {
    const r = run({ appDir: 'services/orders' });
    expect(r.status).toBe(0);
    expect(r.out).toContain('=== service: services/orders/scripts/test.sh');
    expect(r.calls.some((c) => c.startsWith('go vet'))).toBe(true);
  });

  test('a service directory without scripts/test.sh fails the script before anything else, saying where it looked', () => {
    const r = run({ appDir: 'services/orders', withoutServiceChecks: true });
    expect(r.status).not.toBe(0);
    expect(r.out).toContain('release-checks: services/orders/scripts/test.sh not found');
    expect(r.calls.some((c) => c.startsWith('go') || c.includes('manifests.ts'))).toBe(false);
  });

  test('a manifest the validator rejects fails the script', () => {
    const r = run({ validatorFinds: true });
    expect(r.status).not.toBe(0);
    expect(r.out).toContain('finding: runAsNonRoot');
    expect(r.out).not.toContain('release checks passed');
  });
});

describe('after the synth: rollback targets and the node AMI signal (issue 22 items 5 and 11)', () => {
  /** The Build project's role statements, flattened: [action, resource as text]. */
  function buildRoleGrants(): Array<{ action: string; resource: string }> {
    const projectRole = JSON.stringify(project.Properties).match(
      /"ServiceRole":\{"Fn::GetAtt":\["([^"]+)"/,
    )?.[1];
    const policies = Object.values(s.pipeline.findResources('AWS::IAM::Policy')) as Array<{
      Properties: {
        Roles: Array<{ Ref: string }>;
        PolicyDocument: { Statement: Array<{ Action: string | string[]; Resource: unknown }> };
      };
    }>;
    return policies
      .filter((p) => p.Properties.Roles.some((r) => r.Ref === projectRole))
      .flatMap((p) => p.Properties.PolicyDocument.Statement)
      .flatMap((st) =>
        [st.Action]
          .flat()
          .flatMap((action) =>
            [st.Resource].flat().map((r) => ({ action, resource: JSON.stringify(r) })),
          ),
      );
  }

  test('the Build step runs the rollback guard and the node AMI signal after the synth, and exports one line of each', () => {
    const commands = spec.phases.build.commands!;
    const synth = commands.findIndex((c) => c.startsWith('npx cdk synth'));
    const guard = commands.findIndex((c) => c.includes('tools/pipeline/rollback-guard/cli.ts'));
    const amis = commands.findIndex((c) => c.includes('scripts/node-ami-signal.sh'));
    expect(guard).toBeGreaterThan(synth);
    expect(amis).toBeGreaterThan(synth);
    expect(commands[guard]).toContain('--assembly cdk.out --tag-file cdk.out/image.json');
    expect(commands.join('\n')).toContain('export ROLLBACK_TARGETS=');
    expect(commands.join('\n')).toContain('export NODE_AMIS=');
    expect(
      (spec as { env: { 'exported-variables'?: string[] } }).env['exported-variables'],
    ).toEqual(expect.arrayContaining(['ROLLBACK_TARGETS', 'NODE_AMIS']));
  });

  test('the Build role may read exactly what the guard and node-updates read, nothing wider', () => {
    const grants = buildRoleGrants();
    const on = (action: string) => grants.filter((g) => g.action === action).map((g) => g.resource);
    // the pipeline stack's deployed template
    expect(on('cloudformation:GetTemplate')).toEqual([
      expect.stringContaining(`:stack/${s.pipelineStack.stackName}/*`),
    ]);
    // this pipeline's executions
    expect(on('codepipeline:ListPipelineExecutions')).toEqual([
      expect.stringContaining(`:${s.config.pipeline.account}:${s.config.pipeline.name}"`),
    ]);
    // the image repository (DescribeImages: does the tag exist, does the repository hold any image)
    expect(on('ecr:DescribeImages')).toHaveLength(1);
    expect(on('ecr:DescribeImages')[0]).toMatch(/ImageRepository|Arn/);
    // the public EKS AMI parameters of every region that hosts an environment (no account in the ARN)
    const regions = [...new Set(allEnvironments(s.config).map((e) => e.region))].sort();
    expect(on('ssm:GetParameter').sort()).toEqual(
      regions.map((r): unknown =>
        expect.stringContaining(`:ssm:${r}::parameter/aws/service/eks/optimized-ami/*`),
      ),
    );
  });
});

describe('scripts/node-ami-signal.sh: a warning, never a failure (stand-in npm)', () => {
  /** Runs the script with `npm` on PATH exiting with `code` (node-updates' exit code). */
  function run(code: number): {
    status: number | null;
    out: string;
    summary: string;
    calls: string;
  } {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'node-ami-signal-'));
    fs.mkdirSync(path.join(dir, 'scripts'));
    fs.copyFileSync(
      path.join(REPO_ROOT, 'scripts', 'node-ami-signal.sh'),
      path.join(dir, 'scripts', 'node-ami-signal.sh'),
    );
    const bin = path.join(dir, 'stub-bin');
    fs.mkdirSync(bin);
    const log = path.join(dir, 'calls.log');
    fs.writeFileSync(
      path.join(bin, 'npm'),
      `#!/usr/bin/env bash\necho "npm $*" >> "${log}"\necho "node-updates report"\nexit ${code}\n`,
      { mode: 0o755 },
    );
    const summary = path.join(dir, 'summary');
    const r = spawnSync(
      'bash',
      [
        path.join(dir, 'scripts', 'node-ami-signal.sh'),
        '--summary-file',
        summary,
        '--config',
        'config/x.json',
      ],
      { encoding: 'utf8', env: { ...process.env, PATH: `${bin}:${process.env.PATH}` } },
    );
    return {
      status: r.status,
      out: r.stdout + r.stderr,
      summary: fs.existsSync(summary) ? fs.readFileSync(summary, 'utf8').trim() : '',
      calls: fs.existsSync(log) ? fs.readFileSync(log, 'utf8').trim() : '',
    };
  }

  test('runs node-updates with the config and passes its report through', () => {
    const r = run(0);
    expect(r.calls).toBe('npm run -s node-updates -- --config config/x.json');
    expect(r.out).toContain('node-updates report');
    expect(r.status).toBe(0);
    expect(r.summary).toBe('current (every node AMI within its age limit)');
  });

  test.each([
    [1, /^STALE or ahead of a region/],
    [2, /^not checked \(node-updates exit 2/],
    // could not check (the exit-code table every command shares)
    [3, /^not checked \(node-updates could not read AWS/],
  ])(
    'node-updates exit %d: the release goes on (exit 0), with a warning and the summary line',
    (code, summary) => {
      const r = run(code);
      expect(r.status).toBe(0);
      expect(r.summary).toMatch(summary);
      // one line for the approval text, within the budget safe-delivery.test.ts allows it
      expect(r.summary.length).toBeLessThanOrEqual(120);
      expect(r.out).toContain('WARNING: node AMIs:');
    },
  );
});
