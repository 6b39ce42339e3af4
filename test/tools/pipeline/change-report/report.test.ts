import type { Synthesized } from '../../../support/synth';
import type { AssemblyStack } from '../../../../tools/pipeline/change-report/assembly';
import { renderMarkdown } from '../../../../tools/pipeline/change-report/render';
import {
  SUMMARY_MAX,
  type DeployedState,
  changeReport,
  fitSummary,
  stackReport,
} from '../../../../tools/pipeline/change-report/report';
import {
  auditTableOnAccountKey,
  configWithNodeType,
  grantNodesS3Read,
  openSshToTheInternet,
  prodStacks,
  removeScratch,
  stackOf,
  synthesize,
  synthesizeRelease,
  synthesizeStage,
} from './synths';

/**
 * Issue 25: the report an approver reads, for a no-op, an IAM broadening and a node group
 * replacement, each computed from two real synths of the same environments (what is deployed =
 * one synth, what would be deployed = the other), never from hand-written templates.
 */
let base: Synthesized;
let baseProd: AssemblyStack[];
let againProd: AssemblyStack[];
let widerProd: AssemblyStack[];
let stageAlone: AssemblyStack;
let stageBroadened: AssemblyStack;
let stageOpened: AssemblyStack;
let stageRekeyed: AssemblyStack;
let release: { before: AssemblyStack[]; after: AssemblyStack[]; from: string; to: string };

beforeAll(() => {
  base = synthesize();
  baseProd = prodStacks(base);
  againProd = prodStacks(synthesize());
  widerProd = prodStacks(synthesize({ config: configWithNodeType([0, 0], 'm7g.xlarge') }));
  stageAlone = synthesizeStage(base, 'prod-us-east-1');
  stageBroadened = synthesizeStage(base, 'prod-us-east-1', grantNodesS3Read);
  stageOpened = synthesizeStage(base, 'prod-us-east-1', openSshToTheInternet);
  stageRekeyed = synthesizeStage(base, 'prod-us-east-1', auditTableOnAccountKey);
  const r = synthesizeRelease();
  release = {
    before: prodStacks(r.before),
    after: prodStacks(r.after),
    from: r.before.imageTag,
    to: r.after.imageTag,
  };
});

afterAll(removeScratch);

const deployed = (s: AssemblyStack): DeployedState => ({
  kind: 'deployed',
  template: s.template,
  status: 'UPDATE_COMPLETE',
});
const waveOf = (stage: string) => (stage === 'prod-eu-west-1' ? 1 : 2);
const CTX = { title: 'test', against: 'deployed stacks', blockOn: [] };

/** The report of `next` against `deployedNow`, stack by stack (matched by stage). */
function reportOf(deployedNow: AssemblyStack[], next: AssemblyStack[]) {
  return changeReport(
    next.map((s) => stackReport(waveOf(s.stage), s, deployed(stackOf(deployedNow, s.stage)))),
  );
}

test('the default config has three prod stacks, in two waves', () => {
  expect(baseProd.map((s) => s.stage).sort()).toEqual([
    'prod-ap-southeast-2',
    'prod-eu-west-1',
    'prod-us-east-1',
  ]);
});

describe('no-op: two synths of the same config', () => {
  test('every stack is unchanged and nothing needs attention', () => {
    const report = reportOf(baseProd, againProd);
    for (const s of report.stacks) {
      expect(s.state).toBe('unchanged');
      expect(s.resources).toEqual([]);
      expect(s.findings).toEqual([]);
    }
    expect(report.findings.size).toBe(0);
    expect(report.summary).toBe('no change in 3 prod stacks');
    const md = renderMarkdown(report, CTX);
    expect(md).not.toMatch(/Needs your attention|REPLACE|BROADENED|COULD NOT CHECK/);
  });
});

describe('a release: only the service code changed (a new image tag)', () => {
  const releaseReport = () =>
    changeReport(
      release.after.map((s) =>
        stackReport(waveOf(s.stage), s, deployed(stackOf(release.before, s.stage)), {
          imageTagOutput: 'ImageTag',
        }),
      ),
    );

  test('is the release, not an infrastructure change: nothing counted, nothing flagged', () => {
    const report = releaseReport();
    for (const s of report.stacks) {
      expect(s.state).toBe('unchanged');
      expect(s.resources).toEqual([]);
      expect(s.release).toEqual({
        from: release.from,
        to: release.to,
        resources: expect.arrayContaining([
          expect.stringMatching(/^Custom::AWSCDK-EKS-KubernetesResource /),
        ]) as string[],
      });
    }
    expect(report.summary).toBe(
      `no infrastructure change in 3 prod stacks; new image ${release.to}`,
    );
    expect(renderMarkdown(report, CTX)).toContain(
      `Release: image \`${release.from}\` → \`${release.to}\``,
    );
  });

  test('without the image output named, the same release shows as modified resources', () => {
    const s = stackReport(
      1,
      stackOf(release.after, 'prod-eu-west-1'),
      deployed(stackOf(release.before, 'prod-eu-west-1')),
    );
    expect(s.state).toBe('changed');
    expect(s.resources.some((r) => r.type === 'Custom::AWSCDK-EKS-KubernetesResource')).toBe(true);
  });
});

describe('node group replacement: prod-eu-west-1 moves from m7g.large to m7g.xlarge', () => {
  test('the node group is replaced because its instance types change, and that is a service interruption', () => {
    const report = reportOf(baseProd, widerProd);
    const eu = report.stacks.find((s) => s.stage === 'prod-eu-west-1')!;
    expect(eu.state).toBe('changed');
    expect(eu.counts.replaced).toBe(1);
    const nodegroup = eu.resources.find((r) => r.type === 'AWS::EKS::Nodegroup')!;
    expect(nodegroup.change).toBe('replace');
    // the property that forces it comes first: CloudFormation's own update behaviour, from the spec
    expect(nodegroup.properties[0]).toBe('InstanceTypes');
    expect(nodegroup.traffic).toMatch(/drains/);
    expect(eu.findings).toEqual(expect.arrayContaining(['replacement', 'interruption']));
    expect(eu.findings).not.toContain('permissions-broadening');
    // the other regions did not change
    for (const s of report.stacks.filter((x) => x.stage !== 'prod-eu-west-1'))
      expect(s.state).toBe('unchanged');
  });

  test('the approval summary counts it and the report says it loudly, with what it means for traffic', () => {
    const report = reportOf(baseProd, widerProd);
    expect(report.summary).toBe(
      '1 of 3 prod stacks change; 1 REPLACEMENT; SERVICE INTERRUPTION in prod-eu-west-1',
    );
    const md = renderMarkdown(report, CTX);
    const attention = md.slice(md.indexOf('## Needs your attention'), md.indexOf('## Wave 1'));
    expect(attention).toMatch(
      /REPLACE prod-eu-west-1: AWS::EKS::Nodegroup \S+ \(because InstanceTypes changes\)\. SERVICE INTERRUPTION: a new node group is created, then the old one is deleted/,
    );
    // the cdk diff of the stack is in the report too, as `cdk diff` prints it
    expect(md).toMatch(/\[-\] {3}"m7g\.large"/);
    expect(md).toMatch(/\[\+\] {3}"m7g\.xlarge"/);
  });
});

describe('IAM broadening: the node role of prod-us-east-1 may read every S3 object', () => {
  test('the stack is flagged, and the statement added is listed', () => {
    const s = stackReport(2, stageBroadened, deployed(stageAlone));
    expect(s.permissionsBroadened).toBe(true);
    expect(s.findings).toContain('permissions-broadening');
    expect(s.findings).not.toContain('replacement');
    const [header, ...rows] = s.iam.statements;
    expect(header).toEqual(expect.arrayContaining(['Resource', 'Effect', 'Action']));
    expect(rows).toEqual([expect.arrayContaining(['+', '*', 'Allow', 's3:GetObject'])]);
  });

  test('the summary names the stage and the report puts it first', () => {
    const report = changeReport([stackReport(2, stageBroadened, deployed(stageAlone))]);
    expect(report.summary).toBe(
      '1 of 1 prod stack change; PERMISSIONS BROADENED in prod-us-east-1',
    );
    const md = renderMarkdown(report, CTX);
    expect(md).toMatch(/## Needs your attention\n\n- PERMISSIONS BROADENED prod-us-east-1/);
    expect(md).toMatch(/#### IAM: PERMISSIONS BROADENED/);
  });

  test('the stage synthesized alone is the stack the pipeline deploys (so the comparison is fair)', () => {
    const s = stackReport(2, stageAlone, deployed(stackOf(baseProd, 'prod-us-east-1')));
    expect(s.state).toBe('unchanged');
  });
});

describe('a security group of prod-us-east-1 opened to SSH from anywhere', () => {
  test('is a permissions broadening, and the rule is listed with its peer and port', () => {
    const s = stackReport(2, stageOpened, deployed(stageAlone));
    expect(s.permissionsBroadened).toBe(true);
    expect(s.findings).toContain('permissions-broadening');
    const rows = s.securityGroups.slice(1).map((r) => r.join(' | '));
    expect(rows).toEqual([expect.stringMatching(/^\+ \|.*\| In \| TCP 22 \| Everyone \(IPv4\)$/)]);
    const md = renderMarkdown(changeReport([s]), CTX);
    expect(md).toMatch(/## Needs your attention\n\n- PERMISSIONS BROADENED prod-us-east-1/);
    expect(md).toContain('Everyone (IPv4)');
  });
});

describe('encryption at rest: the audit table of prod-us-east-1 moves to a KMS key', () => {
  test('the KMS section names the resource and the property, and nothing is broadened', () => {
    const s = stackReport(2, stageRekeyed, deployed(stageAlone));
    expect(s.state).toBe('changed');
    expect(s.kms).toEqual([
      expect.stringMatching(/^AWS::DynamoDB::GlobalTable \S*Audit\S*: SSESpecification changes$/),
    ]);
    expect(s.permissionsBroadened).toBe(false);
    expect(renderMarkdown(changeReport([s]), CTX)).toMatch(/KMS[\s\S]*SSESpecification changes/);
  });
});

describe('stacks that are not there, or cannot be read', () => {
  test('a region deployed for the first time is all additions, not an error, and broadens nothing running', () => {
    const s = stackReport(2, stackOf(baseProd, 'prod-ap-southeast-2'), { kind: 'absent' });
    expect(s.state).toBe('new');
    expect(s.counts.added).toBe(
      Object.keys(stackOf(baseProd, 'prod-ap-southeast-2').template.Resources ?? {}).length,
    );
    expect(s.counts.modified + s.counts.replaced + s.counts.removed).toBe(0);
    expect(s.findings).toEqual([]);
    const report = changeReport([s]);
    expect(report.summary).toBe('1 of 1 prod stack change (1 new)');
    expect(renderMarkdown(report, CTX)).toMatch(/NEW STACK: not deployed yet/);
  });

  test('an account that could not be read is "could not check", never "no change"', () => {
    const unread = stackReport(2, stackOf(baseProd, 'prod-us-east-1'), {
      kind: 'unreadable',
      reason: 'cannot assume the bootstrap lookup role: AccessDenied',
    });
    const report = changeReport([
      stackReport(
        1,
        stackOf(againProd, 'prod-eu-west-1'),
        deployed(stackOf(baseProd, 'prod-eu-west-1')),
      ),
      unread,
    ]);
    expect(unread.findings).toEqual(['unchecked']);
    expect(report.summary).toBe(
      'no change in the 1 prod stack checked; COULD NOT CHECK prod-us-east-1',
    );
    expect(report.summary).not.toMatch(/no change in 2/);
    const md = renderMarkdown(report, CTX);
    expect(md).toMatch(/COULD NOT CHECK prod-us-east-1: .*AccessDenied.* this is not "no change"/);
  });

  test('a stack whose first creation failed is named: the deploy would fail on it', () => {
    const s = stackReport(1, stackOf(againProd, 'prod-eu-west-1'), {
      kind: 'deployed',
      template: stackOf(baseProd, 'prod-eu-west-1').template,
      status: 'ROLLBACK_COMPLETE',
    });
    expect(s.warnings[0]).toMatch(/ROLLBACK_COMPLETE.*deploy will fail until it is deleted/);
    expect(changeReport([s]).summary).toMatch(/stack state needs care in prod-eu-west-1/);
  });
});

test('the summary fits the approval text whatever happens', () => {
  const many = Array.from({ length: 40 }, (_, i) =>
    stackReport(
      2,
      { ...stackOf(baseProd, 'prod-us-east-1'), stage: `prod-region-number-${i}` },
      {
        kind: 'unreadable',
        reason: 'x',
      },
    ),
  );
  const { summary } = changeReport(many);
  expect(summary.length).toBeLessThanOrEqual(SUMMARY_MAX);
  expect(summary).toMatch(/see the report\)$/);
});

test("the approval's line takes the longest form of the summary that fits what it is given", () => {
  const report = reportOf(baseProd, widerProd);
  const full = '1 of 3 prod stacks change; 1 REPLACEMENT; SERVICE INTERRUPTION in prod-eu-west-1';
  expect(fitSummary(report, 300)).toBe(full);
  // without stage names: the counts stay
  expect(fitSummary(report, full.length - 1)).toBe(
    '1/3 stacks change, 1 REPLACEMENT, SERVICE INTERRUPTION',
  );
  expect(fitSummary(report, 40)).toBe('1/3 change REPL 1 INTERRUPT');
  expect(fitSummary(report, 10)).toBe('1/3 chang…');
  expect(fitSummary(report, 0)).toBe('');
});
