import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { REPO_ROOT } from '../support/paths';

// The project runs on Node 24 LTS (Node 20 reached end of life on 2026-04-30; the AWS CDK dropped
// it on 2026-10-30, aws/aws-cdk#37762). It brings Node 24 itself as the pinned `node` dev
// dependency, whose binary npm puts first on the PATH of every npm script and npx command, so
// `npm test` and `npx cdk synth` run on it even where the system Node is older.
const pkg = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as {
  engines?: { node?: string };
  devDependencies: Record<string, string>;
  allowScripts?: Record<string, boolean>;
};
const pinned = pkg.devDependencies.node;

test('the suite runs on the Node the project pins, not on the system Node', () => {
  expect(pinned).toMatch(/^24\.\d+\.\d+$/);
  expect(process.versions.node).toBe(pinned);
});

test('.nvmrc names Node 24; package.json has no engines.node, which npm would check against the system Node', () => {
  // npm compares `engines` with the Node that runs npm itself (the system one, often older), not
  // with the pinned Node every script runs on: `npm ci` and every `npx delivery` printed
  // EBADENGINE (issue 23). The pinned `node` dev dependency is the requirement.
  expect(pkg.engines?.node).toBeUndefined();
  expect(fs.readFileSync(path.join(REPO_ROOT, '.nvmrc'), 'utf8').trim()).toBe('24');
});

// npm 10 (the npm of Node 20 and 22) has no install-script approvals: it runs every script.
const npmMajor = Number(
  spawnSync('npm', ['--version'], { encoding: 'utf8', timeout: 60000 }).stdout.split('.')[0],
);
(npmMajor >= 11 ? test : test.skip)(
  `every dependency with an install script is reviewed, only the node package runs one (npm ${npmMajor})`,
  () => {
    // npm 11 runs only the install scripts allowScripts approves. The node package's preinstall
    // places the Node 24 binary, so it runs. Approved by name: the lock file has no "resolved" URLs,
    // and npm pins an approval to a version only through them; the version is pinned by
    // devDependencies and the lock file's integrity hash instead. esbuild's postinstall only
    // replaces its JavaScript launcher with the binary that @esbuild/<platform> already brings;
    // @parcel/watcher's install does nothing unless npm_config_build_from_source=true (jest watch
    // mode uses its prebuilt @parcel/watcher-<platform>). Both denied, so npm does not ask.
    expect(pkg.allowScripts).toEqual({ node: true, esbuild: false, '@parcel/watcher': false });
    const ls = spawnSync('npm', ['install-scripts', 'ls'], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      timeout: 60000,
    });
    expect({ status: ls.status, stdout: ls.stdout.trim() }).toEqual({
      status: 0,
      stdout: 'No packages with unreviewed install scripts.',
    });
  },
);
