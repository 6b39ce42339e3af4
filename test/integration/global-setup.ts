import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { enterPrivateTmp } from '../support/private-tmp';
import { type ControlPlane, startControlPlane } from './support/control-plane';

/**
 * Jest global setup of the integration tier (jest.integration.config.js): builds the control plane
 * if it is not cached yet (test/integration/controlplane/build.sh, progress on stderr), starts it
 * once for every test file, and hands its kubeconfig to the tests through the environment.
 */
export default async function globalSetup(): Promise<void> {
  // the control plane's own temp dir is made after this, inside the run's (test/support/private-tmp.ts)
  enterPrivateTmp();
  let binDir = process.env.HELLO_WEB_CONTROLPLANE_BIN;
  if (!binDir) {
    const build = spawnSync('bash', [path.join(__dirname, 'controlplane', 'build.sh')], {
      stdio: ['ignore', 'pipe', 'inherit'],
      encoding: 'utf8',
    });
    if (build.status !== 0)
      throw new Error(
        `building the control plane failed (exit ${build.status}); see its output above`,
      );
    binDir = build.stdout.trim();
  }
  const cp = await startControlPlane({ binDir });
  (globalThis as { __HELLO_WEB_CONTROL_PLANE__?: ControlPlane }).__HELLO_WEB_CONTROL_PLANE__ = cp;
  process.env.HELLO_WEB_INTEGRATION_KUBECONFIG = cp.kubeconfig;
  process.env.HELLO_WEB_INTEGRATION_NODE_ZONES = JSON.stringify(cp.nodeZones);
}
