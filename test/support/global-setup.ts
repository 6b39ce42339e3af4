import { enterPrivateTmp } from './private-tmp';

/** Jest global setup of `npm test` (jest.config.js). */
export default function globalSetup(): void {
  enterPrivateTmp();
}
