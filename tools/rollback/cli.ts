import { processOutput } from '../common/output';
import { isInteractive, terminalConfirm } from '../common/prompt';
import { runCli } from '../common/run';
import { defaultRollbackDeps, rollbackMain } from './main';

// `npm run rollback -- ...`: docs/runbooks/rollback.md
const output = processOutput();
void runCli('rollback', () => rollbackMain(process.argv.slice(2), defaultRollbackDeps(output, isInteractive(), terminalConfirm)), output).then((code) => {
  process.exitCode = code;
});
