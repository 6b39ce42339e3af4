import * as fs from 'node:fs';
import * as path from 'node:path';
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { CodePipelineClient } from '@aws-sdk/client-codepipeline';
import { ECRClient } from '@aws-sdk/client-ecr';
import { parseFlags } from '../../common/args';
import { helpText, printJson, progressOutput } from '../../common/command';
import { REPO_ROOT, invocationDir, loadToolConfig } from '../../common/config';
import { RunControl } from '../../common/control';
import { EXIT_FAILED, EXIT_OK, UsageError } from '../../common/errors';
import { readBoundedFile } from '../../common/files';
import { IMAGE_TAG, MAX_TAG_FILE_BYTES } from '../../common/image-tag';
import { type Output, processOutput } from '../../common/output';
import { runCli } from '../../common/run';
import { type GuardClients, investigate, judge, readSynthesizedPipeline } from './guard';

const USAGE =
  'Usage: npx delivery rollback-guard [--assembly <cdk.out>] [--tag-file <image.json>] [-c config=<file> | --config <file>] [--summary-file <file>] [--json]';

export const ROLLBACK_GUARD_USAGE = helpText({
  usage: `${USAGE}
       (in the pipeline's Build step: npx tsx tools/pipeline/rollback-guard/cli.ts ...)`,
  about: `Run by the pipeline's Build step after the synth (read-only): says whether each deploy stage
would have a rollback target if this release failed there (CodePipeline rolls back only to an
execution of the current pipeline structure), and, with pipeline.requireRollbackTarget, refuses a
release that builds a new image while one would not.`,
  options: [
    ['--assembly <dir>', 'the cloud assembly the synth wrote (default cdk.out)'],
    ['--tag-file <path>', "the image's tag file (default <assembly>/image.json)"],
    ['--summary-file <file>', 'write one line for the approval text here'],
  ],
  config: true,
  json: true,
  verdict:
    'refused: a new image while a stage would have no rollback target (requireRollbackTarget)',
  runbook: 'docs/runbooks/fix-forward.md',
});

/** Every AWS call's bound, and the whole run's: the Build step must not hang on a slow API. */
const CALL_TIMEOUT_MS = 20_000;
const RUN_TIMEOUT_MS = 120_000;

export interface RollbackGuardDeps {
  readonly output: Output;
  readonly cwd: string;
  readonly repoRoot?: string;
  readonly clients?: (region: string) => GuardClients;
}

export async function rollbackGuardMain(
  argv: readonly string[],
  deps: RollbackGuardDeps,
): Promise<number> {
  const flags = parseFlags(
    argv,
    {
      assembly: { type: 'string' },
      'tag-file': { type: 'string' },
      config: { type: 'string' },
      'summary-file': { type: 'string' },
      json: { type: 'boolean' },
    },
    USAGE,
  );
  if (flags.help) {
    deps.output.out(ROLLBACK_GUARD_USAGE);
    return EXIT_OK;
  }
  const json = flags.json === true;
  const out = progressOutput(deps.output, json);
  const cfg = loadToolConfig(flags.config, deps.cwd, deps.repoRoot);
  const assembly = path.resolve(deps.cwd, flags.assembly ?? 'cdk.out');
  const tagFile = path.resolve(deps.cwd, flags['tag-file'] ?? path.join(assembly, 'image.json'));
  // a regular file of bounded size, read within a bound, as every --tag-file (tools/common/files.ts)
  const text = await readBoundedFile(tagFile, {
    what: `--tag-file ${tagFile}`,
    maxBytes: MAX_TAG_FILE_BYTES,
    timeoutMs: CALL_TIMEOUT_MS,
  });
  let tag: unknown;
  try {
    tag = (JSON.parse(text) as { tag?: unknown }).tag;
  } catch (e) {
    throw new UsageError(`--tag-file ${tagFile}: cannot read it as JSON (${(e as Error).message})`);
  }
  if (typeof tag !== 'string' || !IMAGE_TAG.test(tag))
    throw new UsageError(`--tag-file ${tagFile}: no valid "tag" field`);
  let synthesized;
  try {
    synthesized = readSynthesizedPipeline(assembly, cfg.pipeline.name);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const deployStages = [
    cfg.preprod.pipelineStageName,
    ...cfg.prod.waves.map((wave) => wave[0].pipelineStageName),
  ];
  const inputs = {
    pipelineName: cfg.pipeline.name,
    account: cfg.pipeline.account,
    deployStages,
    requireRollbackTarget: cfg.pipeline.requireRollbackTarget,
    synthesized,
    image: { repositoryName: cfg.image.repositoryName, tag },
  };
  const region = cfg.pipeline.region;
  const clients =
    deps.clients?.(region) ??
    ({
      cloudFormation: new CloudFormationClient({ region }),
      ecr: new ECRClient({ region }),
      codePipeline: new CodePipelineClient({ region }),
    } satisfies GuardClients);
  const control = new RunControl({ timeoutMs: RUN_TIMEOUT_MS, callTimeoutMs: CALL_TIMEOUT_MS });
  const verdict = judge(inputs, await investigate(inputs, clients, control));
  for (const line of verdict.lines) {
    if (verdict.refuse) out.err(line);
    else out.out(line);
  }
  if (flags['summary-file'])
    fs.writeFileSync(path.resolve(deps.cwd, flags['summary-file']), `${verdict.summary}\n`);
  const code = verdict.refuse ? EXIT_FAILED : EXIT_OK;
  if (json)
    printJson(deps.output, 'rollback-guard', code, {
      refuse: verdict.refuse,
      summary: verdict.summary,
      lines: verdict.lines,
    });
  return code;
}

/** `npx delivery rollback-guard ...` (and the Build step's `npx tsx .../cli.ts ...`). */
export function run(argv: readonly string[], output: Output = processOutput()): Promise<number> {
  return runCli(
    'rollback-guard',
    () => rollbackGuardMain(argv, { output, cwd: invocationDir(), repoRoot: REPO_ROOT }),
    output,
    argv,
  );
}

if (require.main === module)
  void run(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
    // an abandoned call may hold a socket open; the exit code is decided
    setTimeout(() => process.exit(code), 2000).unref();
  });
