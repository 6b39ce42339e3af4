import type { BuildOptions } from 'esbuild';
import { BUNDLE_OPTIONS, PIPELINE_TOOLS, toolBuildOptions } from '../bundle';

/**
 * How the image gate is bundled for the pipeline (tools/pipeline/bundle.ts): one CommonJS file that runs
 * with plain `node image-gate.cjs ...` from the cloud assembly. The gate reads no file relative
 * to __dirname and has no dynamic require, so the bundle needs nothing next to it.
 */
export const IMAGE_GATE_BUNDLE = {
  /** Relative to the repository root. */
  entryPoint: PIPELINE_TOOLS['image-gate'],
  outfile: 'image-gate.cjs',
  options: BUNDLE_OPTIONS,
} as const;

/** Complete esbuild options: bundle the gate from `repoRoot` into `outdir/image-gate.cjs`. */
export function imageGateBuildOptions(repoRoot: string, outdir: string): BuildOptions {
  return toolBuildOptions(repoRoot, outdir, 'image-gate');
}
