import { processOutput } from '../../common/output';
import { runCli } from '../../common/run';
import { defaultNodeUpdatesDeps, nodeUpdatesMain } from './main';

// `npm run node-updates -- [-c config=<file>] [--max-age-days <n>]`: docs/runbooks/patching-nodes.md
const output = processOutput();
void runCli(
  'node-updates',
  () => nodeUpdatesMain(process.argv.slice(2), defaultNodeUpdatesDeps(output)),
  output,
).then((code) => {
  process.exitCode = code;
});
