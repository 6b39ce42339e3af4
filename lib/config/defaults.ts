import type { DeliveryConfigInput } from './schema';
import { DEFAULT_KUBERNETES_VERSION } from './kubernetes-versions';
import type { ServiceConfig } from './service';

/**
 * The service this repository delivers unless the config names another (`service`). The one
 * place its name is written: every other name derives from it (lib/config/names.ts).
 */
export const DEFAULT_SERVICE: ServiceConfig = {
  name: 'hello-web',
  appDir: 'app',
  port: 8080,
  healthPath: '/healthz',
  readyPath: '/readyz',
};

/**
 * STACK_ENVIRONMENTS: the default configuration, used when no `-c config=<file>` is given.
 * A JSON file of the same shape replaces it as a whole (docs/configuration.md).
 * The account ids are placeholders: synth works offline with them; deploy with your own file.
 */
export const STACK_ENVIRONMENTS: DeliveryConfigInput = {
  pipeline: { account: '111111111111', region: 'eu-west-1' },
  // The CodeCommit repository is named after the service (lib/config/names.ts).
  source: { branch: 'main' },
  preprod: {
    account: '222222222222',
    region: 'eu-west-1',
    replicas: { min: 2, max: 4 },
    nodes: { min: 2, desired: 2, max: 4 },
  },
  prod: {
    waves: [
      [{ account: '333333333333', region: 'eu-west-1' }],
      [
        { account: '333333333333', region: 'us-east-1' },
        { account: '333333333333', region: 'ap-southeast-2' },
      ],
    ],
  },
};

/** Every optional setting's default, in one place. docs/configuration.md lists the same values. */
export const DEFAULTS = {
  service: DEFAULT_SERVICE,
  // pipeline.name: `<service.name>-delivery`, image.repositoryName: `<service.name>` (lib/config/names.ts)
  requireRollbackTarget: false,
  sourceBranch: 'main',
  sourceCreate: true,
  image: {
    architecture: 'arm64',
    failOn: 'CRITICAL',
    scanning: 'ENHANCED',
    keepImages: 30,
  },
  environment: {
    // availabilityZones: `<region>a/b/c`, except where lib/config/availability-zones.ts knows better or requires them
    vpcCidr: '10.0.0.0/16',
    kubernetesVersion: DEFAULT_KUBERNETES_VERSION,
    endpointPublicCidrs: [] as string[],
    nodes: { instanceType: 'm7g.large', min: 3, desired: 3, max: 9, diskSizeGiB: 50 },
    replicas: { min: 3, max: 12, targetCpuPercent: 70 },
    greeting: 'Hello',
    logRetentionDays: 90,
  },
} as const;
