export * from './config-source';
export * from './defaults';
export * from './kubernetes-versions';
export * from './load';
export * from './resolve';
export {
  AWS_REGIONS,
  type ConfigProblem,
  type DeliveryConfigInput,
  type EnvironmentInput,
  formatPath,
} from './schema';
export {
  CONNECTION_PROVIDERS,
  type ConnectionProvider,
  type SourceConfig,
  parseConnectionArn,
} from './source';
export * from './safe-delivery';
export * from './change-report';
export * from './names';
export {
  PROBE_PORT,
  type ServiceConfig,
  type ServiceInput,
  checkServiceSource,
  resolveService,
  serviceSchema,
} from './service';
export * from './breakglass-names';
export * from './breakglass-check-targets';
