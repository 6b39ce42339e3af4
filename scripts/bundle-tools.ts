// `npm run bundle:tools [outdir]`: bundles the pipeline's tools into `<outdir>/tools/*.cjs`
// (default cdk.out), the definitions in tools/pipeline/bundle.ts.
import * as path from 'node:path';
import { build } from 'esbuild';
import { PIPELINE_TOOLS, type PipelineTool, toolBuildOptions } from '../tools/pipeline/bundle';

async function main(): Promise<void> {
  const repoRoot = path.resolve(__dirname, '..');
  const outdir = path.resolve(process.argv[2] ?? 'cdk.out', 'tools');
  for (const tool of Object.keys(PIPELINE_TOOLS) as PipelineTool[]) {
    const options = toolBuildOptions(repoRoot, outdir, tool);
    await build(options);
    console.log(
      `bundled ${PIPELINE_TOOLS[tool]} -> ${path.relative(process.cwd(), options.outfile as string)}`,
    );
  }
}

main().catch((e: unknown) => {
  console.error(`bundle-tools: ${(e as Error).message}`);
  process.exitCode = 1;
});
