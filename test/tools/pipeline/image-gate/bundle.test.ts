import { exitCodeHelp } from '../../../../tools/common/errors';
import type { Metafile } from 'esbuild';
import * as fs from 'node:fs';
import { builtinModules } from 'node:module';
import { IMAGE_GATE_BUNDLE } from '../../../../tools/pipeline/image-gate/bundle';
import { bundleImageGate, runNode } from './run-node';

/**
 * The pipeline runs `node image-gate.cjs ...` from the cloud assembly, with no node_modules.
 * Bundle it the same way into an empty temp dir and run it there.
 */
let dir: string;
let bundle: string;
let metafile: Metafile;

beforeAll(async () => {
  ({ dir, bundle, metafile } = await bundleImageGate());
});

afterAll(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe('image-gate bundle', () => {
  test('is one CommonJS file named as the pipeline expects, with nothing beside it', () => {
    expect(bundle.endsWith(`/${IMAGE_GATE_BUNDLE.outfile}`)).toBe(true);
    expect(fs.readdirSync(dir)).toEqual([IMAGE_GATE_BUNDLE.outfile]);
    // everything esbuild left outside the bundle is a Node built-in
    const external = Object.values(metafile.outputs)
      .flatMap((o) => o.imports)
      .filter((i) => i.external)
      .map((i) => i.path.replace(/^node:/, ''));
    expect(external.length).toBeGreaterThan(0); // proves the check sees imports at all
    expect(external.filter((p) => !builtinModules.includes(p))).toEqual([]);
  });

  test('reads no file relative to its own location: nothing is beside it in the cloud assembly', () => {
    const text = fs.readFileSync(bundle, 'utf8');
    expect(text).toContain('DescribeImageScanFindings'); // the right file
    expect(text).not.toMatch(/__dirname|__filename|import\.meta/);
    // and no dynamic require: every require() left takes a string literal (a Node built-in)
    expect(text).not.toMatch(/\brequire\((?!["'])/);
  });

  test('node image-gate.cjs --help: exit 0, usage', async () => {
    const run = await runNode(bundle, ['--help'], { cwd: dir });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^Usage: npx delivery image-gate --repository <name>/);
    expect(run.stdout).toContain(exitCodeHelp());
  });

  test('bad arguments: exit 2 and exactly one line', async () => {
    const run = await runNode(
      bundle,
      ['--repository', 'hello-web', '--tag', 'v1', '--regions', 'eu-west-1,mars-north-1'],
      { cwd: dir },
    );
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toBe(
      'image-gate: ERROR --regions: "mars-north-1" is not an AWS region (see --help)\n',
    );
  });
});
