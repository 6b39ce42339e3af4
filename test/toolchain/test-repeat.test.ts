import { execFileSync } from 'node:child_process';
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
