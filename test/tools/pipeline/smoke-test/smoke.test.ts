import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { smokeTest } from '../../../../tools/pipeline/smoke-test/smoke';
import { main } from '../../../../tools/pipeline/smoke-test/cli';

/** A real server on loopback whose /version answers change over time, like pods being replaced. */
function server(
  answers: Array<{ status: number; body: string }>,
): Promise<{ url: string; hits: () => number; close: () => Promise<void> }> {
  let hits = 0;
  const srv = http.createServer((req, res) => {
    const a = answers[Math.min(hits, answers.length - 1)];
    hits++;
    res.writeHead(req.url === '/version' ? a.status : 404, { 'content-type': 'application/json' });
    res.end(a.body);
  });
  return new Promise((resolve) =>
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as AddressInfo;
      resolve({
        url: `http://127.0.0.1:${port}`,
        hits: () => hits,
        close: () => new Promise((r) => srv.close(() => r())),
      });
    }),
  );
}

const quiet = () => undefined;

test('passes once the service reports the expected version, retrying through errors and old versions', async () => {
  const s = await server([
    { status: 503, body: 'starting' },
    { status: 200, body: '{"version":"app-old"}' },
    { status: 200, body: '{"version":"app-new","commit":"c"}' },
  ]);
  const lines: string[] = [];
  const r = await smokeTest({
    url: s.url,
    expectVersion: 'app-new',
    timeoutMs: 10000,
    intervalMs: 10,
    log: (l) => lines.push(l),
  });
  await s.close();
  expect(r).toMatchObject({ ok: true, attempts: 3 });
  expect(lines.join('\n')).toMatch(
    /attempt 1: HTTP 503[\s\S]*attempt 2: version is "app-old", expected "app-new"[\s\S]*PASS/,
  );
});

test('fails within the bounded time when the version never matches', async () => {
  const s = await server([{ status: 200, body: '{"version":"app-old"}' }]);
  const r = await smokeTest({
    url: s.url,
    expectVersion: 'app-new',
    timeoutMs: 300,
    intervalMs: 50,
    log: quiet,
  });
  await s.close();
  expect(r.ok).toBe(false);
  expect(r.reason).toMatch(/did not report version app-new within .* last: version is "app-old"/);
});

test('fails when nothing listens (connection refused), naming the cause', async () => {
  const s = await server([]);
  const url = s.url;
  await s.close();
  const r = await smokeTest({
    url,
    expectVersion: 'v',
    timeoutMs: 100,
    intervalMs: 20,
    log: quiet,
  });
  expect(r.ok).toBe(false);
  expect(r.reason).toMatch(/ECONNREFUSED/);
});

test('the command line: exit 0 on pass, 1 on failure, 2 on bad arguments', async () => {
  const s = await server([{ status: 200, body: '{"version":"app-1"}' }]);
  const log = jest.spyOn(console, 'log').mockImplementation(quiet);
  const err = jest.spyOn(console, 'error').mockImplementation(quiet);
  expect(await main(['--url', s.url, '--expect-version', 'app-1', '--timeout', '5'])).toBe(0);
  expect(
    await main([
      '--url',
      s.url,
      '--expect-version',
      'app-2',
      '--timeout',
      '0.2',
      '--interval',
      '0.05',
    ]),
  ).toBe(1);
  expect(await main(['--url', 'not-a-url', '--expect-version', 'x'])).toBe(2);
  expect(await main(['--bogus'])).toBe(2);
  expect(err.mock.calls.flat().join('\n')).toMatch(/--url must be an http\(s\) URL/);
  log.mockRestore();
  err.mockRestore();
  await s.close();
});
