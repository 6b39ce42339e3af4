import { processOutput } from '../../common/output';
import { isInteractive, terminalConfirm } from '../../common/prompt';
import { runCli } from '../../common/run';
import { defaultRollbackDeps, rollbackMain } from './main';

// `npm run rollback -- ...`: docs/runbooks/rollback.md
const output = processOutput();
void runCli(
  'rollback',
  () =>
    rollbackMain(
      process.argv.slice(2),
      defaultRollbackDeps(output, isInteractive(), terminalConfirm),
    ),
  output,
).then((code) => {
  process.exitCode = code;
  // A call abandoned at its time limit may still hold a socket open: the exit code is decided, so
  // do not let it keep the process alive (the timer does not itself keep it alive).
  setTimeout(() => process.exit(code), 2000).unref();
});
