import type { BuildOptions } from 'esbuild';
import * as path from 'node:path';

/**
 * How the image gate is bundled for the pipeline: one CommonJS file that runs with plain
 * `node image-gate.cjs ...` from the cloud assembly, with no `npm ci` (the AWS SDK and the
 * config layer are inside). The gate reads no file relative to __dirname and has no dynamic
 * require, so the bundle needs nothing next to it.
 */
export const IMAGE_GATE_BUNDLE = {
  /** Relative to the repository root. */
  entryPoint: 'tools/image-gate/cli.ts',
  outfile: 'image-gate.cjs',
  options: {
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    bundle: true,
    // Stack traces are never printed, so a source map would only add megabytes.
    sourcemap: false,
    legalComments: 'none',
    logLevel: 'warning',
  },
} as const satisfies { entryPoint: string; outfile: string; options: BuildOptions };

/** Complete esbuild options: bundle the gate from `repoRoot` into `outdir/image-gate.cjs`. */
export function imageGateBuildOptions(repoRoot: string, outdir: string): BuildOptions {
  return {
    ...IMAGE_GATE_BUNDLE.options,
    absWorkingDir: repoRoot,
    entryPoints: [path.join(repoRoot, IMAGE_GATE_BUNDLE.entryPoint)],
    outfile: path.join(outdir, IMAGE_GATE_BUNDLE.outfile),
  };
}
