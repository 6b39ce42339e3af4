#!/usr/bin/env node
'use strict';
// `npx delivery <command> [options]`: the project's commands, without npm's banner (bin/commands.ts).
// npx puts node_modules/.bin first on the PATH, so `node` here is the project's pinned Node 24;
// tsx compiles the TypeScript sources in this process, as `npm run <tool>` does.
require('tsx/cjs/api').register();
require('./commands.ts').main();
