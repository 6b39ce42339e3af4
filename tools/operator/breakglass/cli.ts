import { processSignals } from '../../common/control';
import { processOutput } from '../../common/output';
import { isInteractive, terminalConfirm } from '../../common/prompt';
import { runCli } from '../../common/run';
import { breakglassMain, defaultBreakglassDeps } from './main';

// `npm run breakglass -- ...`: docs/runbooks/breakglass.md
const output = processOutput();
void runCli(
  'breakglass',
  () =>
    breakglassMain(
      process.argv.slice(2),
      defaultBreakglassDeps(output, isInteractive(), terminalConfirm, processSignals),
    ),
  output,
).then((code) => {
  process.exitCode = code;
  // A call abandoned at its time limit may still hold a socket open: the exit code is decided, so
  // do not let it keep the process alive (the timer does not itself keep it alive).
  setTimeout(() => process.exit(code), 2000).unref();
});
