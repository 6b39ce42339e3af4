// `npx tsx scripts/service-dir.ts [--config <file>]`: prints the service's directory (config
// `service.appDir`) for scripts/release-checks.sh, from the same configuration the synth uses.
// An invalid config prints every problem and exits 2.
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../lib/config';

function main(): number {
  let config: string | undefined;
  try {
    config = parseArgs({ options: { config: { type: 'string' } }, strict: true }).values.config;
  } catch (e) {
    console.error(`service-dir: ${(e as Error).message}; usage: service-dir.ts [--config <file>]`);
    return 2;
  }
  const repoRoot = path.resolve(__dirname, '..');
  try {
    console.log(loadConfig({ contextValue: config, cwd: process.cwd(), repoRoot }).service.appDir);
    return 0;
  } catch (e) {
    if (e instanceof ConfigError) {
      console.error(e.message);
      return 2;
    }
    throw e;
  }
}

process.exitCode = main();
