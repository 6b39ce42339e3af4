import { processOutput } from '../common/output';
import { isInteractive, terminalConfirm } from '../common/prompt';
import { runCli } from '../common/run';
import { breakglassMain, defaultBreakglassDeps } from './main';

// `npm run breakglass -- ...`: docs/runbooks/breakglass.md
const output = processOutput();
void runCli('breakglass', () => breakglassMain(process.argv.slice(2), defaultBreakglassDeps(output, isInteractive(), terminalConfirm)), output).then((code) => {
  process.exitCode = code;
});
