import { execFileSync, spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { goModulesWithTests } from '../../scripts/test-repeat';

const ROOT = path.resolve(__dirname, '..', '..');

// Issue 17: the flake that started it lived in the Dockerfile rules' image-build test, which moved
// to tools/dev/dockerfile-rules with issue 15. A repeat run that misses a module misses its flakes.
describe('npm run test:repeat: which Go modules it repeats', () => {
  const tracked = execFileSync('git', ['ls-files', '*go.mod', '*_test.go'], {
    cwd: ROOT,
    encoding: 'utf8',
  })
    .split('\n')
    .filter(Boolean);
  const withTests = new Set(
    tracked
      .filter((f) => f.endsWith('_test.go'))
      .map((f) => {
        // the module a test file belongs to: its nearest directory with a go.mod
        let dir = path.dirname(f);
        while (!tracked.includes(path.join(dir, 'go.mod')) && dir !== '.') dir = path.dirname(dir);
        return dir;
      }),
  );

  it('repeats every Go module of the repository that has tests', () => {
    expect(new Set(goModulesWithTests())).toEqual(withTests);
  });

  it('includes the module of the test that flaked (the Dockerfile rules)', () => {
    expect(goModulesWithTests()).toContain('tools/dev/dockerfile-rules');
  });
});

describe('npm run test:repeat: its background load', () => {
  const loops = (): Set<string> =>
    new Set(
      spawnSync('pgrep', ['-f', 'while :; do :; done'], { encoding: 'utf8' })
        .stdout.split('\n')
        .filter(Boolean),
    );

  it('is gone when the runs end (it must not go on loading the machine for its whole bound)', () => {
    const before = loops();
    const run = spawnSync(
      process.execPath,
      [
        path.join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs'),
        path.join(ROOT, 'scripts', 'test-repeat.ts'),
        '--go-runs',
        '0',
        '--jest-runs',
        '0',
        '--load-seconds',
        '120',
      ],
      { cwd: ROOT, encoding: 'utf8', timeout: 60_000 },
    );
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/background load \d+ busy processes/);
    // every busy loop the run started has ended (the kernel reaps them at once)
    const deadline = Date.now() + 5000;
    let left = [...loops()].filter((p) => !before.has(p));
    while (left.length > 0 && Date.now() < deadline) {
      spawnSync('sleep', ['0.2']);
      left = [...loops()].filter((p) => !before.has(p));
    }
    expect(left).toEqual([]);
  });
});
