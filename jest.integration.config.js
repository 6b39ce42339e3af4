/**
 * The integration tier (`npm run test:integration`): a real Kubernetes control plane on 127.0.0.1,
 * started once by the global setup and shared by the test files, which therefore run one at a time.
 * `npm test` (jest.config.js) never loads these files.
 * @type {import('jest').Config}
 */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test/integration'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': 'ts-jest' },
  setupFiles: ['<rootDir>/test/support/env.ts'],
  globalSetup: '<rootDir>/test/integration/global-setup.ts',
  globalTeardown: '<rootDir>/test/integration/global-teardown.ts',
  maxWorkers: 1,
  // the environments of test/integration/workload.test.ts run side by side, each in its own namespace
  maxConcurrency: 6,
  // one test walks an environment through create, release and undo: each step waits on real rollouts
  testTimeout: 600000,
};
