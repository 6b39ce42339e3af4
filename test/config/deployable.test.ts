import { spawnSync } from 'node:child_process';
import { DEFAULT_SERVICE } from '../../lib/config';
import * as os from 'node:os';
import { App, Stack } from 'aws-cdk-lib';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import { type DeliveryConfigInput } from '../../lib/config';
import {
  EKS_MAX_NODES_PER_MANAGED_NODE_GROUP,
  INT32_MAX,
  MAX_PODS_PER_NODE,
  gitBranchNameProblem,
} from '../../lib/config/limits';
import { Network } from '../../lib/constructs/network';
import { renderWorkload } from '../../lib/manifests/workload';
import { defaultConfig, problems } from '../support/config';

// "Valid means deployable": every config the validator accepts must synthesize, and every value a
// later step (the CDK, AWS, Kubernetes, git) would refuse is a validation problem naming its path.

const base = defaultConfig;
const withPreprod = (settings: Record<string, unknown>): DeliveryConfigInput => ({
  ...base(),
  preprod: {
    account: '222222222222',
    region: 'us-east-1',
    ...settings,
  },
});
const zones = (n: number) => ['a', 'b', 'c', 'd', 'e', 'f'].slice(0, n).map((s) => `us-east-1${s}`);

describe('each value a later step refuses is a problem at its path, with what is expected and what was given', () => {
  test.each([
    [
      'a VPC CIDR too small for the subnets (the synth threw "1 of /22 exceeds remaining space")',
      withPreprod({ vpcCidr: '10.0.0.0/24' }),
      /^preprod\.vpcCidr: "10\.0\.0\.0\/24" is too small for the subnets of 3 availability zones \(\/22 \+ \/19 per zone\): expected \/17 or larger.*got \/24/,
    ],
    [
      'too many zones for the CIDR (the synth threw "1 of /19 exceeds remaining space")',
      withPreprod({ vpcCidr: '10.0.0.0/17', availabilityZones: zones(4) }),
      /^preprod\.vpcCidr: "10\.0\.0\.0\/17" is too small for the subnets of 4 availability zones .*expected \/16 or larger/,
    ],
    [
      'a VPC CIDR larger than AWS allows (/8 synthesized, then CloudFormation would fail)',
      withPreprod({ vpcCidr: '10.0.0.0/8' }),
      /^preprod\.vpcCidr: a VPC's CIDR must be between \/16 and \/28 \(AWS VPC limit\), got \/8/,
    ],
    [
      'a VPC CIDR smaller than AWS allows',
      withPreprod({ vpcCidr: '10.0.0.0/29' }),
      /^preprod\.vpcCidr: a VPC's CIDR must be between \/16 and \/28 .*got \/29/,
    ],
    [
      'a CIDR with host bits set',
      withPreprod({ vpcCidr: '10.0.0.1/16' }),
      /^preprod\.vpcCidr: must be written as its network address: expected "10\.0\.0\.0\/16", got "10\.0\.0\.1\/16"/,
    ],
    [
      'replicas.max beyond int32 (the manifests threw "must match format int32")',
      withPreprod({ replicas: { min: 2, max: 2 ** 31 } }),
      /^preprod\.replicas\.max: must be at most 2147483647 \(Kubernetes stores replica counts as int32\)/,
    ],
    [
      'replicas.max beyond what nodes.max can run',
      withPreprod({ nodes: { min: 2, desired: 2, max: 4 }, replicas: { min: 2, max: 441 } }),
      /^preprod\.replicas\.max: must be at most 440: nodes\.max \(4\) × 110 pods per node .*got 441/,
    ],
    [
      'nodes.max beyond the EKS quota',
      withPreprod({ nodes: { max: 451 } }),
      /^preprod\.nodes\.max: must be at most 450, the EKS quota "Nodes per managed node group"/,
    ],
    [
      'nodes.max beyond int32',
      withPreprod({ nodes: { max: 2 ** 31 } }),
      /^preprod\.nodes\.max: must be at most 450/,
    ],
    [
      'more public endpoint CIDRs than EKS allows',
      withPreprod({ endpointPublicCidrs: Array.from({ length: 41 }, (_, i) => `203.0.${i}.0/24`) }),
      /^preprod\.endpointPublicCidrs: at most 40 CIDRs: the EKS quota "Public endpoint access CIDR ranges per cluster"/,
    ],
    [
      'an ECR repository name too short (the synth threw "Invalid ECR repository name")',
      { ...base(), image: { repositoryName: 'a' } },
      /^image\.repositoryName: must be an ECR repository name: 2-256 characters .*got "a" \(1 characters\)/,
    ],
    [
      'an ECR repository name too long',
      { ...base(), image: { repositoryName: 'a'.repeat(257) } },
      /^image\.repositoryName: must be an ECR repository name: 2-256 characters .*\(257 characters\)/,
    ],
    [
      'an ECR repository name with upper case',
      { ...base(), image: { repositoryName: 'Hello-Web' } },
      /^image\.repositoryName: must be an ECR repository name/,
    ],
    [
      'a branch name git refuses',
      { ...base(), source: { repositoryName: 'hello-web', branch: 'main..x' } },
      /^source\.branch: "main\.\.x" is not a branch name git accepts: must not contain "\.\."/,
    ],
    [
      'a branch name with a space and a semicolon',
      { ...base(), source: { repositoryName: 'hello-web', branch: 'a b;rm -rf' } },
      /^source\.branch: "a b;rm -rf" is not a branch name git accepts: must not contain " "/,
    ],
    [
      'a wrong type is not "required": a string for a number',
      withPreprod({ natGateways: '1' }),
      /^preprod\.natGateways: expected number, received string "1"$/,
    ],
    [
      'a wrong type is not "required": null for a number',
      { ...base(), image: { keepImages: null } },
      /^image\.keepImages: expected number, received null$/,
    ],
    [
      'a wrong type is not "required": an object for a string',
      { ...base(), source: { repositoryName: { name: 'x' } } },
      /^source\.repositoryName: expected string, received object$/,
    ],
  ])('%s', (_name, raw, expected) => {
    const found = problems(raw);
    expect(found).toEqual(expect.arrayContaining([expect.stringMatching(expected)]));
  });

  test('limits are checked even in an environment with other problems: every problem at once', () => {
    const found = problems(
      withPreprod({
        region: 'us-east-9',
        greeting: 'Hi\n',
        vpcCidr: '10.0.0.0/24',
        nodes: { max: 2 },
        replicas: { min: 2, max: 300 },
      }),
    );
    expect(found).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^preprod\.region: "us-east-9" is not an AWS region/),
        expect.stringMatching(/^preprod\.greeting: must not contain control characters/),
        expect.stringMatching(/^preprod\.vpcCidr: "10\.0\.0\.0\/24" is too small/),
        expect.stringMatching(/^preprod\.replicas\.max: must be at most 220/),
      ]),
    );
  });

  test('a missing key is still reported as required', () => {
    const rest: Record<string, unknown> = { ...base() };
    delete rest.source;
    expect(problems(rest)).toEqual(['source: is required (expected object)']);
  });
});

describe('the validator and the step it protects agree, on both sides of each limit', () => {
  test('VPC CIDRs: accepted exactly when the VPC construct can allocate its subnets', () => {
    const disagreements: string[] = [];
    for (let prefix = 16; prefix <= 28; prefix++) {
      for (let n = 2; n <= 6; n++) {
        const cidr = `10.0.0.0/${prefix}`;
        const accepted = !problems(
          withPreprod({ vpcCidr: cidr, availabilityZones: zones(n), natGateways: 1 }),
        ).some((p) => p.startsWith('preprod.vpcCidr'));
        let builds = true;
        try {
          new Network(new Stack(new App(), 'S'), 'N', {
            cidr,
            availabilityZones: zones(n),
            natGateways: 1,
            logRetentionDays: 30,
          });
        } catch {
          builds = false;
        }
        if (accepted !== builds)
          disagreements.push(
            `${cidr} with ${n} zones: validator ${accepted ? 'accepts' : 'refuses'}, VPC ${builds ? 'builds' : 'throws'}`,
          );
      }
    }
    expect(disagreements).toEqual([]);
    // Both sides of the line are covered: /17 holds 3 zones, /18 holds none of ours.
    expect(problems(withPreprod({ vpcCidr: '10.0.0.0/17' }))).toEqual([]);
  });

  test('ECR repository names: accepted exactly when aws-cdk-lib accepts them', () => {
    const names = [
      'a',
      'ab',
      'hello-web',
      'team/hello-web',
      'a.b_c-d',
      'a/b/c',
      'Hello',
      'a--b',
      'a__b',
      '-ab',
      'ab-',
      'a//b',
      '/ab',
      'ab/',
      'a'.repeat(256),
      'a'.repeat(257),
      'a b',
      'ab;',
    ];
    const verdicts = names.map((repositoryName) => {
      const accepted = !problems({ ...base(), image: { repositoryName } }).some((p) =>
        p.startsWith('image.repositoryName'),
      );
      let cdk = true;
      try {
        new ecr.Repository(new Stack(new App(), 'S'), 'R', { repositoryName });
      } catch {
        cdk = false;
      }
      return {
        name: repositoryName.length > 20 ? `${repositoryName.length} chars` : repositoryName,
        accepted,
        cdk,
      };
    });
    expect(verdicts.filter((v) => v.accepted !== v.cdk)).toEqual([]);
    expect(verdicts.filter((v) => v.accepted).length).toBeGreaterThan(3);
  });

  test('branch names: refused exactly when `git check-ref-format --branch` refuses them', () => {
    const names = [
      'main',
      'release/1.2',
      'feature/x_y-z',
      'main..x',
      'a b',
      'a~1',
      'a^',
      'a:b',
      'a?',
      'a*',
      'a[b',
      'a\\b',
      'a\u0007b',
      'a\u007fb',
      '/a',
      'a/',
      'a//b',
      'a.',
      'a/.b',
      '.a',
      'a.lock',
      'a/b.lock/c',
      'a@{b',
      '@',
      'a@b',
      '-a',
      'HEAD',
      'héllo',
      'a/b/c/d',
      '.',
      '..',
      'a.lock.b',
    ];
    // Outside any repository, so that git checks the name rather than expanding "@" or "@{-1}".
    const git = (name: string) =>
      spawnSync('git', ['check-ref-format', '--branch', name], {
        cwd: os.tmpdir(),
        encoding: 'utf8',
        timeout: 10000,
      });
    expect(git('main').status).toBe(0);
    const verdicts = names.map((name) => ({
      name,
      ours: gitBranchNameProblem(name) === undefined,
      git: git(name).status === 0,
    }));
    expect(verdicts.filter((v) => v.ours !== v.git)).toEqual([]);
  });

  test('the largest accepted replica count renders the HPA; one more was the crash', () => {
    const nodesMax = EKS_MAX_NODES_PER_MANAGED_NODE_GROUP;
    const largest = nodesMax * MAX_PODS_PER_NODE;
    expect(
      problems(
        withPreprod({
          nodes: { min: 2, desired: 2, max: nodesMax },
          replicas: { min: 2, max: largest },
        }),
      ),
    ).toEqual([]);
    const props = {
      service: DEFAULT_SERVICE,
      image: 'r/x:t',
      imageTag: 't',
      greeting: 'Hi',
      kubernetesVersion: '1.35',
    };
    expect(() =>
      renderWorkload({ ...props, replicas: { min: 2, max: largest, targetCpuPercent: 70 } }),
    ).not.toThrow();
    expect(() =>
      renderWorkload({ ...props, replicas: { min: 2, max: INT32_MAX + 1, targetCpuPercent: 70 } }),
    ).toThrow(/int32/);
  });
});
