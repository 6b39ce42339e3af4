import { processOutput } from '../../common/output';
import { runCli } from '../../common/run';
import { defaultPreflightDeps, preflightMain } from './main';

// `npm run preflight [-- -c config=<file>] [--role-name <name>]`: docs/runbooks/first-deployment.md
const output = processOutput();
void runCli(
  'preflight',
  () => preflightMain(process.argv.slice(2), defaultPreflightDeps(output)),
  output,
).then((code) => {
  process.exitCode = code;
});
