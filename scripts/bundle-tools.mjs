// Bundles the pipeline's tools into single CommonJS files inside the cloud assembly
// (cdk.out/tools/*.cjs), so the pipeline's steps run them with plain `node`: no `npm ci`, seconds to start.
import { build } from 'esbuild';
import * as path from 'node:path';

const outdir = path.resolve(process.argv[2] ?? 'cdk.out', 'tools');
const tools = { 'image-gate': 'tools/image-gate/cli.ts', 'smoke-test': 'tools/smoke-test/cli.ts' };
for (const [name, entry] of Object.entries(tools)) {
  await build({ entryPoints: [entry], outfile: path.join(outdir, `${name}.cjs`), bundle: true, platform: 'node', target: 'node20', format: 'cjs', logLevel: 'warning', legalComments: 'none' });
  console.log(`bundled ${entry} -> ${path.relative(process.cwd(), path.join(outdir, `${name}.cjs`))}`);
}
