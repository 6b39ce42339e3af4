import { defaultAvailabilityZones } from './availability-zones';
import { DEFAULTS } from './defaults';
import type { SupportedKubernetesVersion } from './kubernetes-versions';
import {
  type EnvironmentNames,
  type PipelineNames,
  type ServiceNames,
  environmentNames,
  pipelineNames,
  serviceNames,
} from './names';
import { type PatchingConfig, resolvePatching } from './patching';
import { type ServiceConfig, resolveService } from './service';
import {
  type DeliveryConfigInput,
  type EnvironmentInput,
  defaultStageName,
  prodWaveName,
} from './schema';
import { type SourceConfig, resolveSource } from './source';
import {
  type BakeSettings,
  type DeploymentWindow,
  type NotificationSettings,
  resolveBake,
  resolveDeploymentWindows,
  resolveNotifications,
} from './safe-delivery';
import { type ChangeReportSettings, resolveChangeReport } from './change-report';

/** One deployment target with every default applied. */
export interface EnvironmentConfig {
  /** Unique stage name, `<preprod|prod>-<region>` unless the config names it. */
  readonly stageName: string;
  readonly kind: 'preprod' | 'prod';
  /** 0-based prod wave index; undefined for pre-prod. */
  readonly wave?: number;
  /** The CodePipeline stage this environment is deployed in: its own name when it deploys alone (pre-prod, a one-region wave), else its wave's (`prod-wave-<n>`). */
  readonly pipelineStageName: string;
  /** The CloudFormation stack name of the environment's application stack (names.stackName). */
  readonly stackName: string;
  /** The service this environment runs (the same for every environment). */
  readonly service: ServiceConfig;
  /** Every name of this environment, derived from the service's name and the stage name (lib/config/names.ts). */
  readonly names: EnvironmentNames;
  readonly account: string;
  readonly region: string;
  readonly availabilityZones: readonly string[];
  readonly natGateways: number;
  readonly vpcCidr: string;
  readonly kubernetesVersion: SupportedKubernetesVersion;
  readonly endpointPublicCidrs: readonly string[];
  readonly operatorRoleArn?: string;
  readonly nodes: {
    readonly instanceType: string;
    readonly min: number;
    readonly desired: number;
    readonly max: number;
    readonly diskSizeGiB: number;
  };
  readonly replicas: {
    readonly min: number;
    readonly max: number;
    readonly targetCpuPercent: number;
  };
  readonly certificateArn?: string;
  /** With certificateArn: the DNS name the certificate covers (lib/config/tls.ts). */
  readonly tlsHostName?: string;
  /** With certificateArn: port 80 stays open too. */
  readonly httpWithTls: boolean;
  readonly greeting: string;
  readonly logRetentionDays: number;
  readonly patching: PatchingConfig;
  /** Bake time and alarm thresholds (lib/config/safe-delivery.ts). */
  readonly bake: BakeSettings;
  /** The deploy's breakglass check: see `breakglassCheck.kmsTableUpgrade` in schema.ts. */
  readonly breakglassCheck: { readonly kmsTableUpgrade: boolean };
}

/** The whole configuration with every default applied. */
export interface DeliveryConfig {
  readonly service: ServiceConfig;
  /** Every name derived from the service's name alone (lib/config/names.ts). */
  readonly names: ServiceNames;
  /** Names derived from the pipeline's name. */
  readonly pipelineNames: PipelineNames;
  readonly pipeline: {
    readonly account: string;
    readonly region: string;
    readonly name: string;
    /** The Build step refuses a new image while a deploy stage has no rollback target (docs/decisions/0026-...). */
    readonly requireRollbackTarget: boolean;
  };
  readonly source: SourceConfig;
  readonly image: {
    readonly repositoryName: string;
    readonly architecture: 'arm64' | 'amd64';
    readonly failOn: 'CRITICAL' | 'HIGH' | 'MEDIUM' | 'LOW';
    readonly scanning: 'ENHANCED' | 'BASIC';
    readonly keepImages: number;
  };
  readonly preprod: EnvironmentConfig;
  readonly prod: {
    readonly waves: readonly (readonly EnvironmentConfig[])[];
    /** Each wave's deployment window (index 0 = wave 1); undefined where the wave may start any time. */
    readonly deploymentWindows: readonly (DeploymentWindow | undefined)[];
    /** What the change report before the approval blocks on (lib/config/change-report.ts). */
    readonly changeReport: ChangeReportSettings;
  };
  readonly notifications: NotificationSettings;
  /** Path of the config file, relative to the repository root, when one was given; the pipeline's synth step passes it on. */
  readonly configFile?: string;
}

export { prodWaveName };

/** Applies the defaults to validated input. Call only after `validateConfig` found no problem. */
export function resolveConfig(input: DeliveryConfigInput, configFile?: string): DeliveryConfig {
  const service = resolveService(input.service, DEFAULTS.service);
  const names = serviceNames(service.name);
  const pipelineName = input.pipeline.name ?? names.defaultPipelineName;
  const env = (
    e: EnvironmentInput,
    kind: 'preprod' | 'prod',
    wave?: number,
    waveSize = 1,
  ): EnvironmentConfig => {
    const d = DEFAULTS.environment;
    const stageName = e.name ?? defaultStageName(kind, e.region);
    // validateConfig has required availabilityZones where a region has no safe default (availability-zones.ts).
    const availabilityZones = e.availabilityZones ?? defaultAvailabilityZones(e.region) ?? [];
    const envNames = environmentNames(service.name, stageName);
    return {
      stageName,
      kind,
      wave,
      // CDK Pipelines names a one-stage wave after its stage; a wider wave keeps the wave's name.
      pipelineStageName: wave === undefined || waveSize === 1 ? stageName : prodWaveName(wave),
      stackName: envNames.stackName,
      service,
      names: envNames,
      account: e.account,
      region: e.region,
      availabilityZones,
      natGateways: e.natGateways ?? availabilityZones.length,
      vpcCidr: e.vpcCidr ?? d.vpcCidr,
      kubernetesVersion: (e.kubernetesVersion ?? d.kubernetesVersion) as SupportedKubernetesVersion,
      endpointPublicCidrs: e.endpointPublicCidrs ?? d.endpointPublicCidrs,
      operatorRoleArn: e.operatorRoleArn,
      nodes: { ...d.nodes, ...e.nodes },
      replicas: { ...d.replicas, ...e.replicas },
      certificateArn: e.certificateArn,
      tlsHostName: e.tlsHostName,
      httpWithTls: e.httpWithTls ?? false,
      greeting: e.greeting ?? d.greeting,
      logRetentionDays: e.logRetentionDays ?? d.logRetentionDays,
      patching: resolvePatching(e.patching),
      bake: resolveBake(e.bake, kind),
      breakglassCheck: { kmsTableUpgrade: e.breakglassCheck?.kmsTableUpgrade ?? false },
    };
  };
  return {
    service,
    names,
    pipelineNames: pipelineNames(pipelineName),
    pipeline: {
      account: input.pipeline.account,
      region: input.pipeline.region,
      name: pipelineName,
      requireRollbackTarget: input.pipeline.requireRollbackTarget ?? DEFAULTS.requireRollbackTarget,
    },
    source: resolveSource(input.source, {
      branch: DEFAULTS.sourceBranch,
      create: DEFAULTS.sourceCreate,
      repositoryName: names.defaultSourceRepositoryName,
    }),
    image: { repositoryName: names.defaultRepositoryName, ...DEFAULTS.image, ...input.image },
    preprod: env(input.preprod, 'preprod'),
    prod: {
      waves: input.prod.waves.map((wave, w) => wave.map((e) => env(e, 'prod', w, wave.length))),
      deploymentWindows: resolveDeploymentWindows(
        input.prod.deploymentWindows,
        input.prod.waves.length,
      ),
      changeReport: resolveChangeReport(input.prod.changeReport),
    },
    notifications: resolveNotifications(input.notifications),
    configFile,
  };
}

/** Every environment in pipeline order: pre-prod, then each prod wave in order. */
export function allEnvironments(cfg: DeliveryConfig): EnvironmentConfig[] {
  return [cfg.preprod, ...cfg.prod.waves.flat()];
}

/** Looks an environment up by stage name; the error lists the valid names. */
export function findEnvironment(cfg: DeliveryConfig, stageName: string): EnvironmentConfig {
  const found = allEnvironments(cfg).find((e) => e.stageName === stageName);
  if (!found) {
    throw new Error(
      `unknown environment "${stageName}"; known: ${allEnvironments(cfg)
        .map((e) => e.stageName)
        .join(', ')}`,
    );
  }
  return found;
}
