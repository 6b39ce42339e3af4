import { type Output, processOutput } from '../../common/output';
import { runCli } from '../../common/run';
import { defaultNodeUpdatesDeps, nodeUpdatesMain } from './main';

/** `npx delivery node-updates ...`: docs/runbooks/patching-nodes.md */
export function run(argv: readonly string[], output: Output = processOutput()): Promise<number> {
  return runCli(
    'node-updates',
    () => nodeUpdatesMain(argv, defaultNodeUpdatesDeps(output)),
    output,
    argv,
  );
}

if (require.main === module)
  void run(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
