import { leavePrivateTmp } from '../support/private-tmp';
import type { ControlPlane } from './support/control-plane';

/** Stops every process the global setup started (by PID) and removes its temp dir. */
export default async function globalTeardown(): Promise<void> {
  await (
    globalThis as { __HELLO_WEB_CONTROL_PLANE__?: ControlPlane }
  ).__HELLO_WEB_CONTROL_PLANE__?.stop();
  leavePrivateTmp();
}
