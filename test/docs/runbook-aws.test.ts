import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CloudFormationClient, CreateStackCommand } from '@aws-sdk/client-cloudformation';
import { type EnvironmentConfig, allEnvironments, loadConfig } from '../../lib/config';
import { type PipelineStage, readPipelineStages } from '../../tools/dev/diagram';
import { type MotoServer, motoAvailable, motoEnv, startMoto } from '../support/moto';
import { REPO_ROOT } from '../support/paths';
import {
  type AwsCommand,
  RUNBOOKS_DIR,
  runbookAssignments,
  runbookAwsCommands,
  runbookLines,
} from '../support/runbook-commands';
import { type Synthesized, synthesize } from '../support/synth';

/**
 * The runbooks' `aws ...` lines, tested the way test/integration/runbooks.test.ts tests their
 * kubectl lines (issue 23): taken from the markdown and run, here through the real AWS CLI
 * (requirements-dev.txt) offline, by test/docs/aws_cli_check.py:
 *  - every line passes the CLI's own parser and botocore's parameter validation, with the values
 *    the runbook gives its variables (samples for what the operator fills in);
 *  - every `--query` names fields the operation really returns (the service model: a misspelt
 *    field is no error for JMESPath, just an empty answer at 3 a.m.);
 *  - pipeline, stage and action names, stack names and output keys exist in the synthesized app;
 *  - GetPipelineState and GetPipeline answer what the synthesized pipeline would answer, so a query
 *    that picks the wrong action (the approval token from `actionStates[0]`, the prod image gate)
 *    gives the wrong value; DescribeStacks is run against moto_server holding each environment's
 *    stack with its synthesized outputs.
 */

const PYTHON = path.join(REPO_ROOT, '.venv', 'bin', 'python');
const EXAMPLE = 'config/example-multi-region.json';
const CHECKER = path.join(__dirname, 'aws_cli_check.py');
const RUNBOOKS = fs
  .readdirSync(RUNBOOKS_DIR)
  .filter((f) => f.endsWith('.md'))
  .sort();

/**
 * Commands the AWS CLI implements itself rather than as one API call, which this test does not
 * run: each named with why. Every entry must still be in a runbook (checked below).
 */
const NOT_RUN: Record<string, string> = {
  'aws sso login --profile prod-operator': 'interactive: opens a browser',
  'aws sso login --profile pipeline': 'interactive: opens a browser',
  'aws eks update-kubeconfig --name "$CLUSTER" --region "$REGION" --role-arn "$OPERATOR_ROLE"':
    'writes ~/.kube/config (test/integration runs the kubectl lines that follow it)',
  'aws s3 cp --region "$REGION" "s3://$BUCKET/manifests/hello-web.yaml" ./hello-web.yaml':
    'a transfer command of the CLI, several calls; its bucket and key come from the lines tested here',
};

/** What the operator fills in (`<...>`), by a word in it: a value of the right form. */
const PLACEHOLDERS: ReadonlyArray<readonly [RegExp, string]> = [
  [/source action/i, 'Source'],
  [/stage/i, 'prod-wave-2'],
  [/execution|pipelineExecutionId/i, '00000000-0000-4000-8000-000000000001'],
  [/commit/i, '0123456789abcdef0123456789abcdef01234567'],
  [/versionid/i, '3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY'],
  [/queryid/i, '12ab3456-12ab-123a-789e-1234567890ab'],
  [/region/i, 'eu-west-1'],
  [/table/i, 'audit-table'],
  [/path/i, 'RUNBOOK_WORK/item.json'],
  [/id\b/i, 'assoc-0123'],
  [/name/i, 'nodegroup-1'],
];

/** Variables a runbook uses without setting them in a code block: it says what to set them to. */
function sampleVariables(s: Synthesized, env: EnvironmentConfig): Record<string, string> {
  return {
    PIPELINE: s.config.pipeline.name,
    PIPELINE_REGION: s.config.pipeline.region,
    REGION: env.region,
    ENV: env.stageName,
    STAGE: env.stageName,
    CLUSTER: `${env.stackName}`,
    PATCH_GROUP: env.stackName,
    REPO: s.config.image.repositoryName,
    TAG: 'app-0123456789abcdef',
    DIGEST: `sha256:${'0'.repeat(64)}`,
    EXECUTION: '00000000-0000-4000-8000-000000000001',
    TARGET: '00000000-0000-4000-8000-000000000002',
    ROLLBACK: '00000000-0000-4000-8000-000000000003',
    START: '2026-01-01T00:00:00Z',
    END: '2026-01-01T01:00:00Z',
    OPERATOR_ROLE: `arn:aws:iam::${env.account}:role/Operators`,
  };
}

/** `$VAR`, `${VAR}` outside single quotes, `$(date ...)`, and `<placeholders>`, as the shell would see them filled in. */
function expand(text: string, vars: Map<string, string>): string {
  let out = '';
  let single = false;
  let double = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    // inside double quotes a single quote is a character (and $VAR is expanded)
    if (c === "'" && !double && !/\\$/.test(out)) single = !single;
    if (c === '"' && !single && !/\\$/.test(out)) double = !double;
    if (!single && c === '$') {
      const date = /^\$\(date [^)]*\)/.exec(text.slice(i));
      if (date) {
        out += '1767225600';
        i += date[0].length - 1;
        continue;
      }
      const m = /^\$(?:\{([A-Z_][A-Z0-9_]*)\}|([A-Z_][A-Z0-9_]*))/.exec(text.slice(i));
      if (m) {
        const name = m[1] ?? m[2];
        out += vars.get(name) ?? `UNSET_${name}`;
        i += m[0].length - 1;
        continue;
      }
    }
    if (c === '<' && !single) {
      const m = /^<([A-Za-z][^<>]*)>/.exec(text.slice(i));
      if (m) {
        out += PLACEHOLDERS.find(([re]) => re.test(m[1]))?.[1] ?? 'x';
        i += m[0].length - 1;
        continue;
      }
    }
    out += c;
  }
  return out;
}

interface CheckResult {
  readonly id: string;
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly operation: string | null;
  readonly params: Record<string, unknown> | null;
  readonly queryProblems: string[];
}

function runChecker(
  commands: Array<{ id: string; line: string }>,
  responses: Record<string, unknown>,
  sent: string[],
  endpoint: string | undefined,
): CheckResult[] {
  const out = execFileSync(PYTHON, [CHECKER], {
    input: JSON.stringify({ commands, responses, sent }),
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    timeout: 240000,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: os.tmpdir(),
      AWS_CONFIG_FILE: '/dev/null',
      AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
      AWS_MAX_ATTEMPTS: '1',
      ...(endpoint ? motoEnv(endpoint) : { AWS_ACCESS_KEY_ID: 'x', AWS_SECRET_ACCESS_KEY: 'y' }),
      ...(endpoint ? {} : { AWS_ENDPOINT_URL: 'http://127.0.0.1:9' }),
    },
  });
  return JSON.parse(out) as CheckResult[];
}

/** What GetPipelineState answers for the synthesized pipeline while PromoteToProd waits for approval. */
function pipelineState(name: string, stages: readonly PipelineStage[]) {
  // GetPipelineState's reference does not say in which order a stage's actions come; this answer
  // lists them as the pipeline declares them (what the console shows). Only an approval that
  // waits has a token: https://docs.aws.amazon.com/codepipeline/latest/APIReference/API_ActionExecution.html
  return {
    pipelineName: name,
    pipelineVersion: 1,
    stageStates: stages.map((stage) => ({
      stageName: stage.name,
      latestExecution: {
        pipelineExecutionId: '00000000-0000-4000-8000-000000000001',
        status: stage.name === 'PromoteToProd' ? 'InProgress' : 'Succeeded',
      },
      actionStates: stage.actions.map((a) => ({
        actionName: a.name,
        latestExecution:
          a.category === 'Approval'
            ? { status: 'InProgress', token: tokenOf(stage.name, a.name) }
            : { status: 'Succeeded' },
      })),
    })),
  };
}
const tokenOf = (stage: string, action: string) => `token-of-${stage}/${action}`;

/**
 * What GetPipeline answers: the stages and actions as declared, and the artifact store of each
 * region (`artifactStores` when the pipeline spans regions, as the synthesized one does;
 * `artifactStore` otherwise: https://docs.aws.amazon.com/codepipeline/latest/APIReference/API_PipelineDeclaration.html).
 */
function pipelineDeclaration(name: string, stages: readonly PipelineStage[], template: unknown) {
  const pipeline = Object.values(
    (
      template as {
        Resources: Record<string, { Type: string; Properties: Record<string, unknown> }>;
      }
    ).Resources,
  ).find((r) => r.Type === 'AWS::CodePipeline::Pipeline')!.Properties;
  const stores = pipeline.ArtifactStores as Array<{ Region: string }> | undefined;
  const store = (region: string) => ({ type: 'S3', location: `artifact-bucket-${region}` });
  return {
    pipeline: {
      name,
      version: 1,
      roleArn: 'arn:aws:iam::111111111111:role/pipeline',
      ...(stores
        ? {
            artifactStores: Object.fromEntries(
              [...new Set([s.config.pipeline.region, ...stores.map((x) => x.Region)])].map((r) => [
                r,
                store(r),
              ]),
            ),
          }
        : { artifactStore: store(s.config.pipeline.region) }),
      stages: stages.map((s) => ({
        name: s.name,
        actions: s.actions.map((a) => ({
          name: a.name,
          runOrder: a.runOrder,
          actionTypeId: { category: a.category, owner: 'AWS', provider: a.provider, version: '1' },
        })),
      })),
    },
  };
}

interface Case {
  readonly file: string;
  readonly cmd: AwsCommand;
  readonly line: string;
  readonly result: CheckResult;
  /** Variables set by commands run before it in the same runbook. */
  readonly vars: Map<string, string>;
}

let s: Synthesized;
let stages: PipelineStage[];
let moto: MotoServer | undefined;
const cases: Case[] = [];
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'runbook-aws-'));

beforeAll(async () => {
  s = synthesize();
  stages = readPipelineStages(s.pipeline.toJSON());
  if (motoAvailable()) moto = await startMoto();
  // Each environment's stack as CloudFormation describes it, with the synthesized outputs.
  for (const env of allEnvironments(s.config)) {
    const outputs = Object.keys(
      (s.stages[env.stageName].toJSON() as { Outputs?: Record<string, unknown> }).Outputs ?? {},
    );
    if (moto)
      await new CloudFormationClient({
        region: env.region,
        endpoint: moto.endpoint,
        credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
      }).send(
        new CreateStackCommand({
          StackName: env.stackName,
          TemplateBody: JSON.stringify({
            Resources: { Placeholder: { Type: 'AWS::CloudFormation::WaitConditionHandle' } },
            Outputs: Object.fromEntries(
              outputs.map((k) => [k, { Value: `${k}-of-${env.stackName}` }]),
            ),
          }),
        }),
      );
  }
  // what an audit record saved by breakglass looks like (`aws dynamodb put-item --item file://<path>`)
  fs.writeFileSync(
    path.join(work, 'item.json'),
    JSON.stringify({ environment: { S: 'prod-us-east-1' }, at: { S: '2026-01-01T00:00:00Z' } }),
  );
  const defaultEnv = allEnvironments(s.config)[0];
  const responses = {
    'codepipeline.GetPipelineState': pipelineState(s.config.pipeline.name, stages),
    'codepipeline.GetPipeline': pipelineDeclaration(
      s.config.pipeline.name,
      stages,
      s.pipeline.toJSON(),
    ),
  };
  // Runbook by runbook, in document order: a variable a command sets is used by the ones after it.
  for (const file of RUNBOOKS) {
    const vars = new Map<string, string>(Object.entries(sampleVariables(s, defaultEnv)));
    for (const [k, v] of runbookAssignments(file)) if (!v.startsWith('<')) vars.set(k, v);
    // files a code block writes with a here-document (`cat > /tmp/x.json <<EOF`), for file:// parameters
    writeHereDocuments(file, vars);
    const commands = runbookAwsCommands(file).filter(
      // a command named in prose without its options, or with some elided (`...`), is a
      // mention, not a line to paste
      (cmd) =>
        (cmd.inBlock || (/\s--?[a-z]/.test(cmd.command) && !cmd.command.includes('...'))) &&
        NOT_RUN[cmd.command] === undefined,
    );
    // First the lines that set a variable, in order, then every other line with those values:
    // two runs of the AWS CLI per runbook rather than one per line.
    for (const batch of [commands.filter((c) => c.assigns), commands.filter((c) => !c.assigns)]) {
      const lines = batch.map((cmd) =>
        expand(cmd.command, vars)
          .replace(/file:\/\/\/tmp\//g, `file://${work}/`)
          .replace(/RUNBOOK_WORK\//g, `${work}/`),
      );
      const results = runChecker(
        batch.map((cmd, i) => ({ id: `${file}:${cmd.line}`, line: lines[i] })),
        responses,
        moto ? ['cloudformation.DescribeStacks'] : [],
        moto?.endpoint,
      );
      batch.forEach((cmd, i) => {
        cases.push({ file, cmd, line: lines[i], result: results[i], vars: new Map(vars) });
        if (cmd.assigns)
          vars.set(cmd.assigns, results[i].exitCode === 0 ? results[i].stdout.trim() : '');
      });
    }
  }
}, 600000);

afterAll(async () => {
  await moto?.stop();
  fs.rmSync(work, { recursive: true, force: true });
  // the synthesized assembly is read in beforeAll; it is 60 MB a run
  fs.rmSync(s.outdir, { recursive: true, force: true });
});

function writeHereDocuments(file: string, vars: Map<string, string>): void {
  const lines = fs.readFileSync(path.join(RUNBOOKS_DIR, file), 'utf8').split('\n');
  for (let i = 0; i < lines.length; i++) {
    const m = /^cat > \/tmp\/(\S+) <<(['"]?)(\w+)\2$/.exec(lines[i].trim());
    if (!m) continue;
    const end = lines.findIndex((l, j) => j > i && l.trim() === m[3]);
    const body = lines.slice(i + 1, end).join('\n');
    fs.writeFileSync(path.join(work, m[1]), m[2] === "'" ? body : expand(body, vars));
  }
}

const describe_ = (c: Case) => `${c.file}:${c.cmd.line} ${c.cmd.command}`;

test('the runbooks have aws lines, and each is run (or named in NOT_RUN with its reason)', () => {
  expect(cases.length).toBeGreaterThan(50);
  const all = RUNBOOKS.flatMap((f) => runbookAwsCommands(f).map((c) => c.command));
  for (const cmd of Object.keys(NOT_RUN)) expect(all).toContain(cmd);
});

test("every aws line passes the AWS CLI's parser and parameter validation", () => {
  const refused = cases
    .filter((c) => c.result.operation === null)
    .map(
      (c) => `${describe_(c)}\n    -> ${c.line}\n    ${c.result.stderr.trim().split('\n').pop()}`,
    );
  expect(refused).toEqual([]);
});

test('every --query asks only for fields the operation returns (its output shape in the service model)', () => {
  const wrong = cases
    .filter((c) => c.result.queryProblems.length > 0)
    .map((c) => `${describe_(c)}: ${c.result.queryProblems.join('; ')}`);
  expect(wrong).toEqual([]);
});

test('pipeline, stage and action names are those of the synthesized pipeline', () => {
  const problems: string[] = [];
  const stageNames = stages.map((st) => st.name);
  const actionsOf = (stage: string) =>
    stages.find((st) => st.name === stage)?.actions.map((a) => a.name) ?? [];
  for (const c of cases.filter((c) => c.result.operation?.startsWith('codepipeline.'))) {
    const p = c.result.params ?? {};
    const pipeline = p.name ?? p.pipelineName;
    if (pipeline !== undefined && pipeline !== s.config.pipeline.name)
      problems.push(
        `${describe_(c)}: pipeline ${JSON.stringify(pipeline)}, not ${s.config.pipeline.name}`,
      );
    const stage = typeof p.stageName === 'string' ? p.stageName : undefined;
    if (stage !== undefined && !stageNames.includes(stage))
      problems.push(`${describe_(c)}: no stage ${stage} (stages: ${stageNames.join(', ')})`);
    if (
      stage !== undefined &&
      typeof p.actionName === 'string' &&
      !actionsOf(stage).includes(p.actionName)
    )
      problems.push(
        `${describe_(c)}: stage ${stage} has no action ${p.actionName} (it has: ${actionsOf(stage).join(', ')})`,
      );
    // names the query selects by
    const query = /--query\s+(?:"([^"]*)"|'([^']*)')/.exec(c.line);
    const q = query?.[1] ?? query?.[2] ?? '';
    const qStages = [...q.matchAll(/stageName\s*==\s*'([^']+)'/g)].map((m) => m[1]);
    for (const st of qStages)
      if (!stageNames.includes(st))
        problems.push(`${describe_(c)}: --query names no stage of the pipeline: ${st}`);
    for (const m of q.matchAll(/actionName\s*==\s*'([^']+)'/g))
      if (
        !qStages
          .flatMap(actionsOf)
          .concat(qStages.length === 0 ? stages.flatMap((st) => st.actions.map((a) => a.name)) : [])
          .includes(m[1])
      )
        problems.push(
          `${describe_(c)}: --query names no action of ${qStages.join(', ') || 'the pipeline'}: ${m[1]}`,
        );
    if (/actionStates\[\d+\]/.test(q))
      problems.push(
        `${describe_(c)}: picks an action by its position (actionStates[n]); select it by actionName`,
      );
  }
  expect(problems).toEqual([]);
});

test('stack names and output keys are those of the synthesized stacks', () => {
  const stacks = new Map(
    allEnvironments(s.config).map((env) => [
      env.stackName,
      Object.keys((s.stages[env.stageName].toJSON() as { Outputs?: object }).Outputs ?? {}),
    ]),
  );
  // adding-a-region.md adds a region of config/example-multi-region.json to the default config:
  // its stack is named as every environment's is, with the outputs every environment's stack has
  const common = [...stacks.values()].reduce((x, y) => x.filter((k) => y.includes(k)));
  for (const env of allEnvironments(loadConfig({ contextValue: EXAMPLE, repoRoot: REPO_ROOT })))
    if (!stacks.has(env.stackName)) stacks.set(env.stackName, common);
  const problems: string[] = [];
  for (const c of cases.filter((c) => c.result.operation?.startsWith('cloudformation.'))) {
    const name = c.result.params?.StackName;
    if (typeof name !== 'string') continue;
    const outputs = stacks.get(name);
    if (!outputs) {
      problems.push(`${describe_(c)}: no stack ${name} (stacks: ${[...stacks.keys()].join(', ')})`);
      continue;
    }
    for (const m of c.line.matchAll(/OutputKey\s*==\s*'([^']+)'/g))
      if (!outputs.includes(m[1])) problems.push(`${describe_(c)}: ${name} has no output ${m[1]}`);
  }
  expect(problems).toEqual([]);
});

test('a value a runbook reads into a variable is there (GetPipelineState as synthesized, DescribeStacks from moto)', () => {
  const answered = cases.filter(
    (c) =>
      c.cmd.assigns !== undefined &&
      (c.result.operation?.startsWith('codepipeline.GetPipeline') ||
        (moto !== undefined && c.result.operation === 'cloudformation.DescribeStacks')),
  );
  expect(answered.length).toBeGreaterThan(5);
  const empty = answered
    .filter((c) => c.result.exitCode !== 0 || ['', 'None'].includes(c.result.stdout.trim()))
    .map(
      (c) =>
        `${describe_(c)}: ${c.cmd.assigns}=${JSON.stringify(c.result.stdout.trim())} ${c.result.stderr.trim()}`,
    );
  expect(empty).toEqual([]);
});

test('an approval token is the token of the approval action the same runbook then answers', () => {
  const approvals = cases.filter((c) => c.result.operation === 'codepipeline.PutApprovalResult');
  expect(approvals.length).toBeGreaterThan(0);
  for (const c of approvals) {
    const p = c.result.params as { stageName: string; actionName: string; token: string };
    expect({ at: describe_(c), token: p.token }).toEqual({
      at: describe_(c),
      token: tokenOf(p.stageName, p.actionName),
    });
  }
});

test('runbook lines that name `aws` are found in code blocks and prose alike', () => {
  // a guard for the extractor: inline spans wrap lines in the prose
  const inline = runbookLines('patching-nodes.md').filter(
    (l) => !l.inBlock && l.text.startsWith('aws ssm describe-instance-information'),
  );
  expect(inline).toHaveLength(1);
});
