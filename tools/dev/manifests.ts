import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  type DeliveryConfig,
  ConfigError,
  checkServiceSource,
  allEnvironments,
  findEnvironment,
  loadConfig,
} from '../../lib/config';
import { imageTagFor, imageUri } from '../../lib/image/tag';
import { renderWorkload, toYaml, workloadPropsFor } from '../../lib/manifests/workload';
import { parseFlags } from '../common/args';
import { IMAGE_TAG, IMAGE_TAG_RULE } from '../common/image-tag';
import { safeForTerminal } from '../common/terminal';

/**
 * `npm run manifests -- --env <stage name> [--config <file>] [--tag <tag>]`: prints the rendered
 * Kubernetes manifests of one environment as YAML, exactly as the stage applies them (the image
 * tag from app/ unless --tag is given). `--out-dir <dir>` instead writes every environment to
 * `<dir>/<stage name>.yaml` (what `npm test` validates and scans).
 */
const USAGE =
  'usage: npm run -s manifests -- (--env <stage name> | --out-dir <dir>) [--config <file.json>] [--tag <image tag>]';

export function renderEnvironment(config: DeliveryConfig, stageName: string, tag: string): string {
  const env = findEnvironment(config, stageName);
  const uri = imageUri({
    registryAccount: config.pipeline.account,
    region: env.region,
    urlSuffix: 'amazonaws.com',
    repositoryName: config.image.repositoryName,
    tag,
  });
  return toYaml(renderWorkload(workloadPropsFor(env, { uri, tag })));
}

function fail(message: string): number {
  console.error(`manifests: ${safeForTerminal(message)}`);
  return 2;
}

/** `dir` as a directory to write into: created when missing; a file or an unwritable place is refused before anything is written. */
function prepareOutDir(dir: string): string | undefined {
  let stat: fs.Stats | undefined;
  try {
    stat = fs.statSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT')
      return `--out-dir ${dir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`;
  }
  if (stat && !stat.isDirectory())
    return `--out-dir ${dir} is a file, not a directory; name a directory (it is created if missing)`;
  try {
    fs.mkdirSync(dir, { recursive: true });
    fs.accessSync(dir, fs.constants.W_OK);
  } catch (e) {
    return `--out-dir ${dir}: cannot create or write it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`;
  }
  return undefined;
}

function main(argv: string[]): number {
  let values: { env?: string; config?: string; tag?: string; 'out-dir'?: string; help?: boolean };
  try {
    values = parseFlags(
      argv,
      {
        env: { type: 'string' },
        config: { type: 'string' },
        tag: { type: 'string' },
        'out-dir': { type: 'string' },
      },
      USAGE,
    );
  } catch (e) {
    return fail((e as Error).message);
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (values.tag !== undefined && !IMAGE_TAG.test(values.tag))
    return fail(`--tag ${JSON.stringify(values.tag)} is not a valid image tag (${IMAGE_TAG_RULE})`);
  const repoRoot = path.resolve(__dirname, '..', '..');
  let config: DeliveryConfig;
  try {
    config = loadConfig({ contextValue: values.config, cwd: process.cwd(), repoRoot });
  } catch (e) {
    console.error(e instanceof ConfigError ? e.message : `manifests: ${(e as Error).message}`);
    return 2;
  }
  if (values.tag === undefined) {
    // The tag is the fingerprint of the service's directory: it must be there.
    const problems = checkServiceSource(config.service, repoRoot);
    if (problems.length > 0) {
      console.error(new ConfigError(values.config ?? 'STACK_ENVIRONMENTS', problems).message);
      return 2;
    }
  }
  const tag = values.tag ?? imageTagFor(path.join(repoRoot, config.service.appDir));
  const names = allEnvironments(config).map((e) => e.stageName);
  const outDir = values['out-dir'];
  if (outDir) {
    const problem = prepareOutDir(outDir);
    if (problem) return fail(problem);
    try {
      for (const n of names)
        fs.writeFileSync(path.join(outDir, `${n}.yaml`), renderEnvironment(config, n, tag));
    } catch (e) {
      console.error(
        `manifests: writing to ${safeForTerminal(outDir)} failed: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
      );
      return 1;
    }
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
    return fail((e as Error).message);
  }
  return 0;
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
