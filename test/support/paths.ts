import * as path from 'node:path';

/** The repository root, for tests that run its files (kept apart from synth.ts, which loads the CDK app). */
export const REPO_ROOT = path.resolve(__dirname, '..', '..');

/** Node running a TypeScript file with the project's tsx, as `npm run <tool>` does. */
export const TSX_CLI = path.join(REPO_ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs');
