/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  // the integration tier needs a control plane: `npm run test:integration` (jest.integration.config.js)
  testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/integration/'],
  // Type checking is `tsc --noEmit` (scripts/test-all.sh); ts-jest only transpiles, which keeps
  // the suite fast on a 2-core machine.
  transform: { '^.+\\.ts$': 'ts-jest' },
  setupFiles: ['<rootDir>/test/support/env.ts'],
  // a temporary directory of the run's own, removed whole at the end (test/support/private-tmp.ts)
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
  setupFilesAfterEnv: ['aws-cdk-lib/testhelpers/jest-autoclean'],
  testTimeout: 120000,
  // Every core: jest's default is one worker less than the cores (one worker on a 2-core machine),
  // which leaves a core idle while the CPU-bound synths run one file after another; the parent
  // process mostly waits. Measured: docs/decisions/0019-where-each-validator-runs.md.
  maxWorkers: '100%',
};
