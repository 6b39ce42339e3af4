import { leavePrivateTmp } from './private-tmp';

/** Jest global teardown of `npm test` (jest.config.js). */
export default function globalTeardown(): void {
  leavePrivateTmp();
}
