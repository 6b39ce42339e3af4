import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  type DeliveryConfig,
  ConfigError,
  allEnvironments,
  checkServiceSource,
  findEnvironment,
} from '../../lib/config';
import { imageTagFor, imageUri } from '../../lib/image/tag';
import { renderWorkload, toYaml, workloadPropsFor } from '../../lib/manifests/workload';
import { parseFlags } from '../common/args';
import { helpText } from '../common/command';
import { REPO_ROOT, chooseToolConfig, invocationDir } from '../common/config';
import { EXIT_OK, OperationError, UsageError } from '../common/errors';
import { makeDirectory } from '../common/files';
import { IMAGE_TAG, IMAGE_TAG_RULE } from '../common/image-tag';
import { type Output, processOutput } from '../common/output';
import { runCli } from '../common/run';

/**
 * `npx delivery manifests --env <stage name> [--config <file>] [--tag <tag>]`: prints the rendered
 * Kubernetes manifests of one environment as YAML, exactly as the stage applies them (the image
 * tag from app/ unless --tag is given). `--out-dir <dir>` instead writes every environment to
 * `<dir>/<stage name>.yaml` (what `npm test` validates and scans).
 */
const USAGE =
  'Usage: npx delivery manifests (--env <stage name> | --out-dir <dir>) [-c config=<file> | --config <file>] [--tag <image tag>]';

const HELP = helpText({
  usage: USAGE,
  about:
    "Renders one environment's Kubernetes manifests as YAML on stdout, exactly as its stage applies them\n(the image tag from app/ unless --tag), or with --out-dir every environment into <dir>/<stage name>.yaml.",
  options: [
    ['--env <stage name>', 'the environment to print, such as preprod-eu-west-1'],
    ['--out-dir <dir>', 'write every environment into this directory instead (created if missing)'],
    ['--tag <image tag>', "the image tag (default: the fingerprint of app/, as the pipeline's)"],
  ],
  config: true,
});

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

export function manifestsMain(argv: readonly string[], output: Output): number {
  const flags = parseFlags(
    argv,
    {
      env: { type: 'string' },
      config: { type: 'string' },
      tag: { type: 'string' },
      'out-dir': { type: 'string' },
    },
    USAGE,
  );
  if (flags.help) {
    output.out(HELP);
    return EXIT_OK;
  }
  if (flags.tag !== undefined && !IMAGE_TAG.test(flags.tag))
    throw new UsageError(
      `--tag ${JSON.stringify(flags.tag)} is not a valid image tag (${IMAGE_TAG_RULE})`,
    );
  const { config, choice } = chooseToolConfig(flags.config, invocationDir(), REPO_ROOT);
  if (flags.tag === undefined) {
    // The tag is the fingerprint of the service's directory: it must be there.
    const problems = checkServiceSource(config.service, REPO_ROOT);
    if (problems.length > 0)
      throw new UsageError(new ConfigError(choice.file ?? 'STACK_ENVIRONMENTS', problems).message);
  }
  const tag = flags.tag ?? imageTagFor(path.join(REPO_ROOT, config.service.appDir));
  const names = allEnvironments(config).map((e) => e.stageName);
  const outDir = flags['out-dir'];
  if (outDir !== undefined) {
    const dir = makeDirectory(path.resolve(invocationDir(), outDir), `--out-dir ${outDir}`);
    try {
      for (const n of names)
        fs.writeFileSync(path.join(dir, `${n}.yaml`), renderEnvironment(config, n, tag));
    } catch (e) {
      throw new OperationError(
        `writing to ${outDir} failed: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
      );
    }
    output.out(`manifests: wrote ${names.map((n) => `${n}.yaml`).join(', ')} to ${outDir}`);
    return EXIT_OK;
  }
  if (flags.env === undefined)
    throw new UsageError(`--env is required (one of: ${names.join(', ')})\n${USAGE}`);
  let yaml: string;
  try {
    yaml = renderEnvironment(config, flags.env, tag);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  output.outRaw(yaml);
  return EXIT_OK;
}

/** `npx delivery manifests ...` (and `npx delivery manifests ...`). */
export function run(argv: readonly string[], output: Output = processOutput()): Promise<number> {
  return runCli('manifests', () => Promise.resolve(manifestsMain(argv, output)), output, argv);
}

if (require.main === module)
  void run(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
