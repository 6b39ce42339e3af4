import { type Output, processOutput } from '../../common/output';
import { runCli } from '../../common/run';
import { defaultPreflightDeps, preflightMain } from './main';

/** `npx delivery preflight ...`: docs/runbooks/first-deployment.md */
export function run(argv: readonly string[], output: Output = processOutput()): Promise<number> {
  return runCli('preflight', () => preflightMain(argv, defaultPreflightDeps(output)), output, argv);
}

if (require.main === module)
  void run(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
