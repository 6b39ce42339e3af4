import * as fs from 'node:fs';
import * as path from 'node:path';
import { REPO_ROOT } from '../support/paths';

// The project runs on Node 24 LTS (Node 20 reached end of life on 2026-04-30; the AWS CDK dropped
// it on 2026-10-30, aws/aws-cdk#37762). It brings Node 24 itself as the pinned `node` dev
// dependency, whose binary npm puts first on the PATH of every npm script and npx command, so
// `npm test` and `npx cdk synth` run on it even where the system Node is older.
const pkg = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as {
  engines: { node: string };
  devDependencies: Record<string, string>;
  allowScripts?: Record<string, boolean>;
};
const pinned = pkg.devDependencies.node;

test('the suite runs on the Node the project pins, not on the system Node', () => {
  expect(pinned).toMatch(/^24\.\d+\.\d+$/);
  expect(process.versions.node).toBe(pinned);
});

test('engines, .nvmrc and the pinned node agree on Node 24', () => {
  expect(pkg.engines.node).toBe('>=24 <25');
  expect(fs.readFileSync(path.join(REPO_ROOT, '.nvmrc'), 'utf8').trim()).toBe('24');
  // npm 11 runs no dependency install script unless allowed; the node package's postinstall
  // is what places the Node binary, so its approval is pinned to the same version.
  expect(pkg.allowScripts?.[`node@${pinned}`]).toBe(true);
});
