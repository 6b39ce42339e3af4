export * from './defaults';
export * from './kubernetes-versions';
export * from './load';
export * from './resolve';
export { AWS_REGIONS, type ConfigProblem, type DeliveryConfigInput, type EnvironmentInput, formatPath } from './schema';
export * from './safe-delivery';
