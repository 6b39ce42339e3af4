import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { parseFlags } from '../common/args';
import { helpText } from '../common/command';
import { REPO_ROOT, chooseToolConfig, invocationDir } from '../common/config';
import { EXIT_OK } from '../common/errors';
import { type Output, processOutput } from '../common/output';
import { runCli } from '../common/run';

/**
 * `npm run diff [-- -c config=<file> | --config <file>]`: `cdk diff` of every stack the app
 * synthesizes ('**': the pipeline stack, its replica-registry and cross-region support stacks and
 * every environment's stack inside the pipeline's stages; `cdk diff` alone would take only the
 * pipeline stack), with the configuration every command uses (lib/config/config-source.ts).
 * cdk diff's own exit code is passed on.
 */
const USAGE = 'Usage: npm run diff [-- -c config=<file> | --config <file>]';

const HELP = helpText({
  usage: USAGE,
  about: `cdk diff of every stack (pipeline, replica registries, every environment) against what is
deployed, with the same configuration as cdk synth and every npx delivery command. Needs credentials
that can read the stacks (CloudFormation GetTemplate) in every account.`,
  options: [],
  config: true,
});

export async function diffMain(argv: readonly string[], output: Output): Promise<number> {
  const flags = parseFlags(argv, { config: { type: 'string' } }, USAGE);
  if (flags.help) {
    output.out(HELP);
    return EXIT_OK;
  }
  // Validated here, so that a bad file is named before the CDK CLI starts.
  const { choice, described } = chooseToolConfig(flags.config, invocationDir(), REPO_ROOT);
  output.err(`Configuration: ${described}`);
  const args = ['diff', '**'];
  // A file from the command line is relative to where it was typed; cdk runs in the repository.
  if (choice.source === 'command line' && choice.file !== undefined)
    args.push('-c', `config=${path.resolve(choice.baseDir, choice.file)}`);
  const cdk = path.join(REPO_ROOT, 'node_modules', '.bin', 'cdk');
  return new Promise((resolve, reject) => {
    const child = spawn(cdk, args, { cwd: REPO_ROOT, stdio: 'inherit' });
    child.on('error', reject);
    child.on('close', (code, signal) => resolve(code ?? (signal === 'SIGINT' ? 130 : 1)));
  });
}

if (require.main === module) {
  const output = processOutput();
  const argv = process.argv.slice(2);
  void runCli('diff', () => diffMain(argv, output), output, argv).then((code) => {
    process.exitCode = code;
  });
}
