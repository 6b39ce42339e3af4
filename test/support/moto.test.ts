import * as net from 'node:net';
import { motoAvailable, startMoto } from './moto';

/**
 * Issue 17: on a busy machine, "choose a free port, then start moto_server on it" raced: another
 * process (an outgoing connection takes its local port from the same ephemeral range) took the
 * port in between, and a whole test file failed with "Address already in use". Seen in a jest run
 * beside other test runs (breakglass under faults, 16 tests at once).
 */
const run = motoAvailable() ? test : test.skip;

run(
  'moto_server starts even when the port a probe found free is taken before moto binds it',
  async () => {
    // the port a "find a free port" probe would report, already taken by someone else
    // it answers nothing: a connection is closed at once
    const other = net.createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
    const taken = (other.address() as net.AddressInfo).port;
    // every "which port did I get?" answer in this process now names that taken port
    const probe = jest
      .spyOn(net.Server.prototype, 'address')
      .mockReturnValue({ port: taken, address: '127.0.0.1', family: 'IPv4' });
    try {
      const moto = await startMoto();
      try {
        expect(moto.endpoint).not.toContain(`:${taken}`);
        const res = await fetch(`${moto.endpoint}/moto-api/`);
        expect(res.status).toBeLessThan(500);
      } finally {
        await moto.stop();
      }
    } finally {
      probe.mockRestore();
      await new Promise<void>((resolve) => other.close(() => resolve()));
    }
  },
);
