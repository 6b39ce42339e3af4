import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { RegistryScanningRule, ReplicationRule, ScanType } from '@aws-sdk/client-ecr';
import { App } from 'aws-cdk-lib';
import { buildApp } from '../../../lib/app';
import type { DeliveryConfig } from '../../../lib/config';

/**
 * What deploying this configuration needs from the accounts, read from the synthesized cloud
 * assembly rather than re-derived: every account/region a stack deploys to (stages, the
 * pipeline's cross-region support stacks, the image replicas), the bootstrap version the
 * stacks declare, and the most CodeBuild actions any pipeline stage runs at once.
 */
export interface DeploymentNeeds {
  /** Every account/region that must be bootstrapped, sorted. */
  readonly bootstrapTargets: readonly { readonly account: string; readonly region: string }[];
  /** The highest `requiresBootstrapStackVersion` any stack, lookup role or asset manifest declares. */
  readonly requiredBootstrapVersion: number;
  /** The bootstrap template version of the pinned CDK CLI (`cdk bootstrap` would deploy this one). */
  readonly latestBootstrapVersion: number;
  /** The most CodeBuild actions that run at the same time in one pipeline stage, and where. */
  readonly parallelBuilds: { readonly count: number; readonly stage: string };
  /**
   * The registry-wide ECR settings the templates would set, by registry (`<account>/<region>` of
   * the stack that holds them), in the API's shape. A registry the templates do not touch is absent.
   */
  readonly registries: Readonly<Record<string, RegistrySettings>>;
}

/**
 * What deploying would set in one registry. Each is a singleton that replaces the registry's whole
 * configuration: AWS::ECR::ReplicationConfiguration (PutReplicationConfiguration) and
 * AWS::ECR::RegistryScanningConfiguration (PutRegistryScanningConfiguration).
 */
export interface RegistrySettings {
  /** The replication rules, or undefined when no template sets replication here. */
  readonly replication?: readonly ReplicationRule[];
  /** The scan type and rules, or undefined when no template sets scanning here. */
  readonly scanning?: {
    readonly scanType: ScanType;
    readonly rules: readonly RegistryScanningRule[];
  };
}

interface ManifestArtifact {
  readonly type: string;
  readonly environment?: string;
  readonly properties?: {
    readonly requiresBootstrapStackVersion?: number;
    readonly lookupRole?: { readonly requiresBootstrapStackVersion?: number };
    readonly directoryName?: string;
    readonly templateFile?: string;
  };
}

interface PipelineAction {
  readonly ActionTypeId: { readonly Provider: string };
  readonly RunOrder?: number;
}

/** Reads the needs from a synthesized cloud assembly directory (cdk.out). */
export function readDeploymentNeeds(assemblyDir: string): DeploymentNeeds {
  const targets = new Map<string, { account: string; region: string }>();
  let required = 0;
  let parallelBuilds = { count: 0, stage: '' };
  const registries: Record<string, RegistrySettings> = {};

  const visit = (dir: string): void => {
    const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as {
      artifacts?: Record<string, ManifestArtifact>;
    };
    for (const artifact of Object.values(manifest.artifacts ?? {})) {
      const props = artifact.properties ?? {};
      required = Math.max(
        required,
        props.requiresBootstrapStackVersion ?? 0,
        props.lookupRole?.requiresBootstrapStackVersion ?? 0,
      );
      if (artifact.type === 'cdk:cloud-assembly' && props.directoryName)
        visit(path.join(dir, props.directoryName));
      if (artifact.type !== 'aws:cloudformation:stack') continue;
      const env = /^aws:\/\/(\d{12})\/([a-z0-9-]+)$/.exec(artifact.environment ?? '');
      if (env) targets.set(`${env[1]}/${env[2]}`, { account: env[1], region: env[2] });
      if (props.templateFile) {
        const template = JSON.parse(
          fs.readFileSync(path.join(dir, props.templateFile), 'utf8'),
        ) as TemplateShape;
        const widest = widestStage(template);
        if (widest.count > parallelBuilds.count) parallelBuilds = widest;
        if (env)
          readRegistrySettings(template, props.templateFile, env[1], (settings) => {
            const key = `${env[1]}/${env[2]}`;
            const had = registries[key] ?? {};
            for (const kind of ['replication', 'scanning'] as const)
              if (had[kind] && settings[kind])
                throw new Error(
                  `two templates set the ${kind} configuration of registry ${key} (${props.templateFile} is the second): they would overwrite each other`,
                );
            registries[key] = { ...had, ...settings };
          });
      }
    }
  };
  visit(assemblyDir);
  if (targets.size === 0)
    throw new Error(`no stack with an account and region in the cloud assembly at ${assemblyDir}`);
  return {
    bootstrapTargets: [...targets.values()].sort((a, b) =>
      `${a.account}/${a.region}`.localeCompare(`${b.account}/${b.region}`),
    ),
    requiredBootstrapVersion: required,
    latestBootstrapVersion: cliBootstrapVersion(),
    parallelBuilds,
    registries,
  };
}

/**
 * The ECR registry singletons of one template, converted from CloudFormation's property names to
 * the API's (what DescribeRegistry and GetRegistryScanningConfiguration return), so the preflight
 * compares like with like. A value that is not a literal (other than the stack's own account id)
 * cannot be compared and is an error.
 */
function readRegistrySettings(
  template: TemplateShape,
  file: string,
  account: string,
  found: (settings: RegistrySettings) => void,
): void {
  for (const [id, resource] of Object.entries(template.Resources ?? {})) {
    const where = `${file}: ${id} (${resource.Type})`;
    const literal = (value: unknown, what: string): string => {
      if (typeof value === 'string') return value;
      if (JSON.stringify(value) === JSON.stringify({ Ref: 'AWS::AccountId' })) return account;
      throw new Error(
        `${where}: ${what} is ${JSON.stringify(value)}, not a value the preflight can compare`,
      );
    };
    const list = (value: unknown): Record<string, unknown>[] =>
      Array.isArray(value) ? (value as Record<string, unknown>[]) : [];
    const filters = (rule: Record<string, unknown>) =>
      list(rule.RepositoryFilters).map((f) => ({
        filter: literal(f.Filter, 'RepositoryFilters.Filter'),
        filterType: literal(f.FilterType, 'RepositoryFilters.FilterType'),
      }));
    const p = resource.Properties ?? {};
    if (resource.Type === 'AWS::ECR::ReplicationConfiguration') {
      const config = (p.ReplicationConfiguration ?? {}) as Record<string, unknown>;
      found({
        replication: list(config.Rules).map((rule) => ({
          destinations: list(rule.Destinations).map((d) => ({
            region: literal(d.Region, 'Destinations.Region'),
            registryId: literal(d.RegistryId, 'Destinations.RegistryId'),
          })),
          repositoryFilters: filters(rule) as ReplicationRule['repositoryFilters'],
        })),
      });
    }
    if (resource.Type === 'AWS::ECR::RegistryScanningConfiguration') {
      found({
        scanning: {
          scanType: literal(p.ScanType, 'ScanType') as ScanType,
          rules: list(p.Rules).map((rule) => ({
            scanFrequency: literal(
              rule.ScanFrequency,
              'ScanFrequency',
            ) as RegistryScanningRule['scanFrequency'],
            repositoryFilters: filters(rule) as RegistryScanningRule['repositoryFilters'],
          })),
        },
      });
    }
  }
}

interface TemplateShape {
  readonly Resources?: Record<
    string,
    {
      readonly Type: string;
      readonly Properties?: {
        readonly Stages?: readonly {
          readonly Name: string;
          readonly Actions: readonly PipelineAction[];
        }[];
      } & Record<string, unknown>;
    }
  >;
}

/** CodeBuild actions with the same RunOrder in one stage run in parallel (a wave's gates, then its smoke tests). */
function widestStage(template: TemplateShape): { count: number; stage: string } {
  let widest = { count: 0, stage: '' };
  for (const resource of Object.values(template.Resources ?? {})) {
    if (resource.Type !== 'AWS::CodePipeline::Pipeline') continue;
    for (const stage of resource.Properties?.Stages ?? []) {
      const perRunOrder = new Map<number, number>();
      for (const action of stage.Actions) {
        if (action.ActionTypeId.Provider !== 'CodeBuild') continue;
        const order = action.RunOrder ?? 1;
        perRunOrder.set(order, (perRunOrder.get(order) ?? 0) + 1);
      }
      const count = Math.max(0, ...perRunOrder.values());
      if (count > widest.count) widest = { count, stage: stage.Name };
    }
  }
  return widest;
}

/** The version in the bootstrap template the pinned aws-cdk CLI ships (node_modules/aws-cdk). */
export function cliBootstrapVersion(): number {
  const file = path.join(
    path.dirname(require.resolve('aws-cdk/package.json')),
    'lib',
    'api',
    'bootstrap',
    'bootstrap-template.yaml',
  );
  const match = /CdkBootstrapVersion:\s*\n\s*Type: AWS::SSM::Parameter[\s\S]*?Value: '(\d+)'/.exec(
    fs.readFileSync(file, 'utf8'),
  );
  if (!match) throw new Error(`cannot read the bootstrap version from ${file}`);
  return Number(match[1]);
}

/**
 * Synthesizes the app (offline, as `cdk synth` does, without cdk-nag) into a temporary directory
 * and reads its needs. The directory is removed afterwards.
 */
export function synthesizeNeeds(config: DeliveryConfig, repoRoot: string): DeploymentNeeds {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'preflight-'));
  try {
    const context = (
      JSON.parse(fs.readFileSync(path.join(repoRoot, 'cdk.json'), 'utf8')) as {
        context?: Record<string, unknown>;
      }
    ).context;
    const { app } = buildApp({ config, repoRoot, app: new App({ outdir, context }), nag: false });
    app.synth();
    return readDeploymentNeeds(outdir);
  } finally {
    fs.rmSync(outdir, { recursive: true, force: true });
  }
}
