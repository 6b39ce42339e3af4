import { spawnSync } from 'node:child_process';
import { shellQuote } from '../../lib/pipeline/shell-quote';

// The config path reaches the pipeline's synth step as part of a shell command line
// (lib/pipeline/pipeline-stack.ts): whatever it holds, the shell must see one word, unchanged.
test.each([
  'config/prod.json',
  'config/my config.json',
  'x; touch /tmp/pwned',
  '$(id)`id`${HOME}',
  "it's",
  "''",
  'a\nb',
  '\\',
  '-c',
  '',
])('%j reaches the command as one word, unchanged', (value) => {
  const r = spawnSync('sh', ['-c', `printf '%s|' ${shellQuote(value)}`], {
    encoding: 'utf8',
    timeout: 10000,
  });
  expect(r.status).toBe(0);
  expect(r.stdout).toBe(`${value}|`);
});
