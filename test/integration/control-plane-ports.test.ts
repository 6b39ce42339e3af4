import { spawnSync } from 'node:child_process';
import * as net from 'node:net';
import * as path from 'node:path';
import { startControlPlane } from './support/control-plane';

/**
 * Issue 17: the control plane's processes take fixed ports (etcd and the API server have no "pick
 * one and tell me"), chosen free a moment before they bind. On a busy machine another process can
 * take one in between (the same race broke moto_server starts: "Address already in use"). The
 * start must then begin again on new ports, not fail the whole integration tier.
 */
test('a port taken between choosing it and binding it: the control plane starts again on new ports', async () => {
  const build = spawnSync('bash', [path.join(__dirname, 'controlplane', 'build.sh')], {
    stdio: ['ignore', 'pipe', 'inherit'],
    encoding: 'utf8',
  });
  expect(build.status).toBe(0);
  const binDir = process.env.HELLO_WEB_CONTROLPLANE_BIN ?? build.stdout.trim();

  // someone else's port, answering nothing
  const other = net.createServer((socket) => socket.destroy());
  await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
  const taken = (other.address() as net.AddressInfo).port;
  // the first five "which port did I get?" answers (one start's choice) all name that taken port
  const address = Object.getOwnPropertyDescriptor(net.Server.prototype, 'address')!.value as (
    this: net.Server,
  ) => ReturnType<net.Server['address']>;
  let answers = 0;
  const probe = jest.spyOn(net.Server.prototype, 'address').mockImplementation(function (
    this: net.Server,
  ) {
    answers++;
    return answers <= 5
      ? { port: taken, address: '127.0.0.1', family: 'IPv4' }
      : address.call(this);
  });
  const lines: string[] = [];
  try {
    const cp = await startControlPlane({ binDir, nodesPerZone: 1, log: (l) => lines.push(l) });
    try {
      expect(answers).toBeGreaterThan(5);
      expect(lines.join('\n')).toMatch(/starting again on new ports/);
    } finally {
      await cp.stop();
    }
  } finally {
    probe.mockRestore();
    await new Promise<void>((resolve) => other.close(() => resolve()));
  }
}, 300_000);
