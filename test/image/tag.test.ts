import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { STACK_ENVIRONMENTS, validateConfig } from '../../lib/config';
import { buildApp } from '../../lib/app';
import { imageTagFor } from '../../lib/image/tag';
import { REPO_ROOT } from '../support/paths';

function tree(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tag-'));
  for (const [rel, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), content);
  }
  return dir;
}
const base = {
  'main.go': 'package main',
  Dockerfile: 'FROM scratch',
  '.dockerignore': 'bench/\n*.md\n',
};

test('the same source gives the same tag; a change to the code or the Dockerfile gives another', () => {
  const a = imageTagFor(tree(base));
  expect(a).toMatch(/^app-[0-9a-f]{16}$/);
  expect(imageTagFor(tree(base))).toBe(a);
  expect(imageTagFor(tree({ ...base, 'main.go': 'package main // changed' }))).not.toBe(a);
  expect(imageTagFor(tree({ ...base, Dockerfile: 'FROM scratch\nUSER 65532' }))).not.toBe(a);
  expect(imageTagFor(tree({ ...base, 'sub/new.go': 'package sub' }))).not.toBe(a);
});

test('files the Docker build never sees (.dockerignore) do not change the tag', () => {
  const a = imageTagFor(tree(base));
  expect(imageTagFor(tree({ ...base, 'README.md': 'docs' }))).toBe(a);
  expect(imageTagFor(tree({ ...base, 'bench/run.sh': 'echo' }))).toBe(a);
});

test('the Dockerfile and .dockerignore always count, even when .dockerignore excludes them (an allowlist)', () => {
  const allowlist = { ...base, '.dockerignore': '*\n!*.go\n' };
  const a = imageTagFor(tree(allowlist));
  expect(
    imageTagFor(tree({ ...allowlist, Dockerfile: 'FROM scratch\n# base image bumped' })),
  ).not.toBe(a);
  expect(imageTagFor(tree({ ...allowlist, '.dockerignore': '*\n!*.go\n!go.mod\n' }))).not.toBe(a);
  expect(imageTagFor(tree({ ...allowlist, 'notes.txt': 'not in the context' }))).toBe(a);
});

test('the real app/: a change to its Dockerfile changes the tag', () => {
  const real = path.join(__dirname, '..', '..', 'app');
  const copy = fs.mkdtempSync(path.join(os.tmpdir(), 'app-'));
  fs.cpSync(real, copy, { recursive: true, filter: (src) => !/\/bin$/.test(src) });
  const before = imageTagFor(copy);
  fs.appendFileSync(path.join(copy, 'Dockerfile'), '\n# base image bumped\n');
  expect(imageTagFor(copy)).not.toBe(before);
});

/**
 * The real app/, copied and changed: the tag changes exactly when the image's content can. The
 * Dockerfile copies the build context (`COPY go.mod ./`, `COPY . .`) and builds package main; tests,
 * test-only packages and benchmarks never reach the binary, so they must not redeploy every region.
 */
describe('the real app/: what changes the tag', () => {
  const real = path.join(__dirname, '..', '..', 'app');
  let copy: string;
  let before: string;
  beforeEach(() => {
    copy = fs.mkdtempSync(path.join(os.tmpdir(), 'app-'));
    fs.cpSync(real, copy, { recursive: true, filter: (src) => !/\/(bin|\.tmp)$/.test(src) });
    before = imageTagFor(copy);
  });
  const change = (rel: string, text = '\n// changed\n') => {
    fs.mkdirSync(path.dirname(path.join(copy, rel)), { recursive: true });
    fs.appendFileSync(path.join(copy, rel), text);
    return imageTagFor(copy);
  };
  const goFiles = (dir: string) =>
    fs.readdirSync(path.join(copy, dir)).filter((f) => f.endsWith('.go'));

  test.each([
    ['a test file', () => goFiles('.').find((f) => f.endsWith('_test.go'))!],
    ['a new test file', () => 'new_test.go'],
    // app/ holds only the service now (its Dockerfile rules and benchmark are modules of their
    // own), so these are new files a developer might add there.
    ['test-only code under internal/', () => 'internal/testutil/helpers.go'],
    ['a benchmark under bench/', () => 'bench/load/main.go'],
    ['the README', () => 'README.md'],
    ['a script', () => 'scripts/test.sh'],
  ])('%s: same tag', (_what, file) => {
    expect(change(file())).toBe(before);
  });

  test.each([
    ['a source file of package main', () => goFiles('.').find((f) => !f.endsWith('_test.go'))!],
    ['a new source file', () => 'extra.go'],
    ['go.mod', () => 'go.mod'],
    ['go.sum (appears with the first dependency)', () => 'go.sum'],
    ['the Dockerfile', () => 'Dockerfile'],
    ['.dockerignore', () => '.dockerignore'],
  ])('%s: new tag', (_what, file) => {
    expect(change(file(), '\n# changed\n')).not.toBe(before);
  });
});

test("the synth fingerprints the service's directory (service.appDir), wherever it is", () => {
  // A repository whose service lives in services/orders, with no app/ at all.
  const repo = tree({
    'services/orders/main.go': 'package main // orders',
    'services/orders/Dockerfile': 'FROM scratch',
  });
  fs.copyFileSync(path.join(REPO_ROOT, 'buildspec.yml'), path.join(repo, 'buildspec.yml'));
  const config = validateConfig({
    ...STACK_ENVIRONMENTS,
    service: { name: 'orders-api', appDir: 'services/orders' },
  });
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'tag-app-'));
  const { imageTag } = buildApp({ config, repoRoot: repo, appProps: { outdir }, nag: false });
  expect(imageTag).toBe(imageTagFor(path.join(repo, 'services/orders')));
  expect(imageTag).not.toBe(imageTagFor(path.join(REPO_ROOT, 'app')));
  expect(JSON.parse(fs.readFileSync(path.join(outdir, 'image.json'), 'utf8'))).toEqual({
    repositoryName: 'orders-api',
    tag: imageTag,
  });
});
