import * as path from 'node:path';
import type { BuildOptions } from 'esbuild';

/**
 * The tools the pipeline runs from the cloud assembly (`cdk.out/tools/<name>.cjs`) with plain
 * `node`, no `npm ci`: the image gate and the smoke test. One definition, used by
 * `npm run bundle:tools` (the pipeline's synth step) and by the tests that run the bundles.
 */
export const PIPELINE_TOOLS = {
  'image-gate': 'tools/pipeline/image-gate/cli.ts',
  'smoke-test': 'tools/pipeline/smoke-test/cli.ts',
  'image-backfill': 'tools/pipeline/image-backfill/cli.ts',
  'breakglass-check': 'tools/pipeline/breakglass-check/cli.ts',
} as const;
export type PipelineTool = keyof typeof PIPELINE_TOOLS;

/** One CommonJS file per tool, everything inside (the AWS SDK too), nothing read from beside it. */
export const BUNDLE_OPTIONS = {
  platform: 'node',
  target: 'node24',
  format: 'cjs',
  bundle: true,
  // Stack traces are never printed, so a source map would only add megabytes.
  sourcemap: false,
  legalComments: 'none',
  logLevel: 'warning',
} as const satisfies BuildOptions;

/** Complete esbuild options: bundle `tool` from `repoRoot` into `outdir/<tool>.cjs`. */
export function toolBuildOptions(
  repoRoot: string,
  outdir: string,
  tool: PipelineTool,
): BuildOptions {
  return {
    ...BUNDLE_OPTIONS,
    absWorkingDir: repoRoot,
    entryPoints: [path.join(repoRoot, PIPELINE_TOOLS[tool])],
    outfile: path.join(outdir, `${tool}.cjs`),
  };
}
