import * as path from 'node:path';
import type { BuildOptions, Plugin } from 'esbuild';

/**
 * The tools the pipeline runs from the cloud assembly (`cdk.out/tools/<name>.cjs`) with plain
 * `node`, no `npm ci`: the image gate, the smoke test, the backfill and the change report. One definition, used by
 * `npm run bundle:tools` (the pipeline's synth step) and by the tests that run the bundles.
 */
export const PIPELINE_TOOLS = {
  'image-gate': 'tools/pipeline/image-gate/cli.ts',
  'smoke-test': 'tools/pipeline/smoke-test/cli.ts',
  'image-backfill': 'tools/pipeline/image-backfill/cli.ts',
  'breakglass-check': 'tools/pipeline/breakglass-check/cli.ts',
  'change-report': 'tools/pipeline/change-report/cli.ts',
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

/**
 * `@aws-cdk/aws-service-spec` (the AWS resource specification `@aws-cdk/cloudformation-diff`
 * reads to tell replacements) loads `db.json.gz` from beside its own files
 * (`path.join(__dirname, '..', 'db.json.gz')`); in a bundle that path points nowhere. This
 * replaces the module with one that carries the same database inside the bundle (esbuild's
 * binary loader) and builds it the same way: gunzip, JSON, `emptyDatabase().load(...)`.
 */
export function embedAwsServiceSpec(repoRoot: string): Plugin {
  const pkgDir = path.dirname(
    require.resolve('@aws-cdk/aws-service-spec/package.json', { paths: [repoRoot] }),
  );
  return {
    name: 'embed-aws-service-spec',
    setup(build) {
      build.onResolve({ filter: /^@aws-cdk\/aws-service-spec$/ }, () => ({
        path: 'aws-service-spec',
        namespace: 'embedded-aws-service-spec',
      }));
      build.onLoad({ filter: /.*/, namespace: 'embedded-aws-service-spec' }, () => ({
        resolveDir: path.join(pkgDir, 'lib'),
        loader: 'js',
        contents: [
          "const { gunzipSync } = require('node:zlib');",
          "const { emptyDatabase } = require('@aws-cdk/service-spec-types');",
          `const compressed = require(${JSON.stringify(path.join(pkgDir, 'db.json.gz'))});`,
          'function loadAwsServiceSpecSync() {',
          '  const db = emptyDatabase();',
          "  db.load(JSON.parse(gunzipSync(compressed).toString('utf-8')));",
          '  return db;',
          '}',
          'exports.loadAwsServiceSpecSync = loadAwsServiceSpecSync;',
          'exports.loadAwsServiceSpec = async () => loadAwsServiceSpecSync();',
        ].join('\n'),
      }));
    },
  };
}

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
    ...(tool === 'change-report'
      ? { plugins: [embedAwsServiceSpec(repoRoot)], loader: { '.gz': 'binary' } }
      : {}),
  };
}
