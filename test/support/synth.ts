import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Template } from 'aws-cdk-lib/assertions';
import {
  type DeliveryConfig,
  type DeliveryConfigInput,
  STACK_ENVIRONMENTS,
  allEnvironments,
  validateConfig,
} from '../../lib/config';
import { buildApp } from '../../lib/app';
import type { PipelineStack } from '../../lib/pipeline/pipeline-stack';

import { REPO_ROOT } from './paths';

export { REPO_ROOT };

/** The feature flags and context of cdk.json, so tests synthesize exactly what `cdk synth` does. */
export const CDK_JSON_CONTEXT = (
  JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'cdk.json'), 'utf8')) as {
    context: Record<string, unknown>;
  }
).context;

export interface Synthesized {
  readonly config: DeliveryConfig;
  readonly pipelineStack: PipelineStack;
  readonly imageTag: string;
  readonly outdir: string;
  /** The pipeline stack's template. */
  readonly pipeline: Template;
  /** Each environment's application stack template, by stage name. */
  readonly stages: Record<string, Template>;
}

/**
 * Synthesizes the whole app once (call it in `beforeAll`, never per test). Nag is off by
 * default: test/nag.test.ts runs it once for the whole app.
 */
export function synthesize(
  options: { config?: DeliveryConfigInput; repoRoot?: string; nag?: boolean } = {},
): Synthesized {
  const config = validateConfig(options.config ?? STACK_ENVIRONMENTS);
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'cdk-test-'));
  const { app, pipelineStack, imageTag } = buildApp({
    config,
    repoRoot: options.repoRoot ?? REPO_ROOT,
    appProps: { outdir, context: CDK_JSON_CONTEXT },
    nag: options.nag ?? false,
  });
  app.synth();
  const stages: Record<string, Template> = {};
  for (const env of allEnvironments(config)) {
    const stage = pipelineStack.node.findChild(env.stageName) as unknown as {
      stack: import('aws-cdk-lib').Stack;
    };
    stages[env.stageName] = Template.fromStack(stage.stack);
  }
  return {
    config,
    pipelineStack,
    imageTag,
    outdir,
    pipeline: Template.fromStack(pipelineStack),
    stages,
  };
}

/** The CodePipeline's stages as `{ name, onFailure, actions: [{ name, runOrder, provider }] }`, in order. */
export function pipelineStages(t: Template): Array<{
  name: string;
  onFailure?: { Result: string };
  actions: Array<{
    name: string;
    runOrder: number;
    provider: string;
    configuration: Record<string, unknown>;
  }>;
}> {
  const pipelines = Object.values(t.findResources('AWS::CodePipeline::Pipeline'));
  if (pipelines.length !== 1) throw new Error(`expected one pipeline, found ${pipelines.length}`);
  const stages = (pipelines[0] as { Properties: { Stages: Array<Record<string, unknown>> } })
    .Properties.Stages;
  return stages.map((s) => ({
    name: s.Name as string,
    onFailure: s.OnFailure as { Result: string } | undefined,
    actions: (s.Actions as Array<Record<string, unknown>>).map((a) => ({
      name: typeof a.Name === 'string' ? a.Name : JSON.stringify(a.Name),
      runOrder: a.RunOrder as number,
      provider: (a.ActionTypeId as { Provider: string }).Provider,
      configuration: (a.Configuration ?? {}) as Record<string, unknown>,
    })),
  }));
}

/**
 * The buildspec text a CodeBuild project of the pipeline runs: inline, or a file of the cloud
 * assembly, where CDK Pipelines writes the long ones (asset publishing) and names the file.
 */
export function projectBuildSpec(s: Synthesized, projectLogicalId: string): string {
  const resources = (
    s.pipeline.toJSON() as {
      Resources: Record<string, { Properties?: { Source?: { BuildSpec?: unknown } } }>;
    }
  ).Resources;
  const spec = resources[projectLogicalId]?.Properties?.Source?.BuildSpec;
  if (typeof spec !== 'string')
    throw new Error(`no CodeBuild project ${projectLogicalId} with a buildspec`);
  return spec.trimStart().startsWith('{')
    ? spec
    : fs.readFileSync(path.join(s.outdir, spec), 'utf8');
}
