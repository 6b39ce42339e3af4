import { processSignals } from '../../common/control';
import { type Output, processOutput } from '../../common/output';
import { isInteractive, terminalConfirm } from '../../common/prompt';
import { runCli } from '../../common/run';
import { breakglassMain, defaultBreakglassDeps } from './main';

/** `npx delivery breakglass ...`: docs/runbooks/breakglass.md */
export function run(argv: readonly string[], output: Output = processOutput()): Promise<number> {
  return runCli(
    'breakglass',
    () =>
      breakglassMain(
        argv,
        defaultBreakglassDeps(output, isInteractive(), terminalConfirm, processSignals),
      ),
    output,
    argv,
  );
}

if (require.main === module)
  void run(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
    // A call abandoned at its time limit may still hold a socket open: the exit code is decided, so
    // do not let it keep the process alive (the timer does not itself keep it alive).
    setTimeout(() => process.exit(code), 2000).unref();
  });
