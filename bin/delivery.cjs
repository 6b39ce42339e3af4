#!/usr/bin/env node
'use strict';
// `npx delivery <command> [options]`: the project's commands, without npm's banner (bin/commands.ts).
// npx puts node_modules/.bin first on the PATH, so `node` here is the project's pinned Node 24;
// tsx compiles the TypeScript sources in this process, as `npm run <tool>` does.
let tsx;
try {
  tsx = require('tsx/cjs/api');
} catch (e) {
  if (e && e.code === 'MODULE_NOT_FOUND') {
    // A checkout where `npm ci` has not run: bad usage (exit 2, nothing touched), not a crash.
    process.stderr.write(
      "delivery: the project's dependencies are not installed: run `npm ci` in the repository first (README, Quickstart)\n",
    );
    process.exit(2);
  }
  throw e;
}
tsx.register();
require('./commands.ts').main();
