import { parseArgs } from 'node:util';
import { type DeliveryConfig, ConfigError, allEnvironments, findEnvironment, loadConfig } from '../lib/config';
import { imageTagFor } from '../lib/image/tag';
import { renderWorkload, toYaml, workloadPropsFor } from '../lib/manifests/workload';
import * as path from 'node:path';

/**
 * `npm run manifests -- --env <stage name> [--config <file>] [--tag <tag>] [--all]`: prints the rendered
 * Kubernetes manifests of one environment as YAML, exactly as the stage applies them (the image
 * tag from app/ unless --tag is given). `--all` prints every environment, separated by comments.
 */
const USAGE = 'usage: npm run manifests -- --env <stage name> [--config <file.json>] [--tag <image tag>] [--all]';

export function renderEnvironment(config: DeliveryConfig, stageName: string, tag: string): string {
  const env = findEnvironment(config, stageName);
  const image = `${config.pipeline.account}.dkr.ecr.${env.region}.amazonaws.com/${config.image.repositoryName}:${tag}`;
  return toYaml(renderWorkload(workloadPropsFor(env, { uri: image, tag })));
}

function main(argv: string[]): number {
  let values: { env?: string; config?: string; tag?: string; all?: boolean; help?: boolean };
  try {
    ({ values } = parseArgs({ args: argv, options: { env: { type: 'string' }, config: { type: 'string' }, tag: { type: 'string' }, all: { type: 'boolean' }, help: { type: 'boolean' } }, strict: true }));
  } catch (e) {
    console.error(`manifests: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const repoRoot = path.resolve(__dirname, '..');
  let config: DeliveryConfig;
  try {
    config = loadConfig({ contextValue: values.config, cwd: process.cwd(), repoRoot });
  } catch (e) {
    console.error(e instanceof ConfigError ? e.message : `manifests: ${(e as Error).message}`);
    return 2;
  }
  const tag = values.tag ?? imageTagFor(path.join(repoRoot, 'app'));
  const names = allEnvironments(config).map((e) => e.stageName);
  if (values.all) {
    process.stdout.write(names.map((n) => `# environment: ${n}\n${renderEnvironment(config, n, tag)}`).join('---\n'));
    return 0;
  }
  if (!values.env) {
    console.error(`manifests: --env is required (one of: ${names.join(', ')})\n${USAGE}`);
    return 2;
  }
  try {
    process.stdout.write(renderEnvironment(config, values.env, tag));
  } catch (e) {
    console.error(`manifests: ${(e as Error).message}`);
    return 2;
  }
  return 0;
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
