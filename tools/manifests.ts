import { parseArgs } from 'node:util';
import { type DeliveryConfig, ConfigError, allEnvironments, findEnvironment, loadConfig } from '../lib/config';
import { imageTagFor, imageUri } from '../lib/image/tag';
import { renderWorkload, toYaml, workloadPropsFor } from '../lib/manifests/workload';
import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * `npm run manifests -- --env <stage name> [--config <file>] [--tag <tag>]`: prints the rendered
 * Kubernetes manifests of one environment as YAML, exactly as the stage applies them (the image
 * tag from app/ unless --tag is given). `--out-dir <dir>` instead writes every environment to
 * `<dir>/<stage name>.yaml` (what `npm test` validates and scans).
 */
const USAGE = 'usage: npm run -s manifests -- (--env <stage name> | --out-dir <dir>) [--config <file.json>] [--tag <image tag>]';

export function renderEnvironment(config: DeliveryConfig, stageName: string, tag: string): string {
  const env = findEnvironment(config, stageName);
  const uri = imageUri({ registryAccount: config.pipeline.account, region: env.region, urlSuffix: 'amazonaws.com', repositoryName: config.image.repositoryName, tag });
  return toYaml(renderWorkload(workloadPropsFor(env, { uri, tag })));
}

function main(argv: string[]): number {
  let values: { env?: string; config?: string; tag?: string; 'out-dir'?: string; help?: boolean };
  try {
    ({ values } = parseArgs({ args: argv, options: { env: { type: 'string' }, config: { type: 'string' }, tag: { type: 'string' }, 'out-dir': { type: 'string' }, help: { type: 'boolean' } }, strict: true }));
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
  const outDir = values['out-dir'];
  if (outDir) {
    fs.mkdirSync(outDir, { recursive: true });
    for (const n of names) fs.writeFileSync(path.join(outDir, `${n}.yaml`), renderEnvironment(config, n, tag));
    console.log(`manifests: wrote ${names.map((n) => `${n}.yaml`).join(', ')} to ${outDir}`);
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
