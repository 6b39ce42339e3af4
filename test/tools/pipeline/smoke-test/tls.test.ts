import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { main } from '../../../../tools/pipeline/smoke-test/cli';
import { smokeTest } from '../../../../tools/pipeline/smoke-test/smoke';

/**
 * With a certificate the smoke test calls https:// at the NLB's address while presenting the
 * certificate's host name (SNI and Host), and Node checks the certificate against that name. Here:
 * a real TLS server on loopback with a certificate for hello.example.test from a throwaway CA.
 */
let dir: string;
let ca: string;
let srv: https.Server;
let url: string;
const seen: Array<{ servername: string | false | null; host?: string }> = [];

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'smoke-tls-'));
  const run = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  run(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
    '-days',
    '1',
    '-subj',
    '/CN=smoke test CA',
  );
  run(
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'srv.key',
    '-out',
    'srv.csr',
    '-subj',
    '/CN=hello.example.test',
  );
  fs.writeFileSync(path.join(dir, 'ext.cnf'), 'subjectAltName=DNS:hello.example.test\n');
  run(
    'x509',
    '-req',
    '-in',
    'srv.csr',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'srv.pem',
    '-days',
    '1',
    '-extfile',
    'ext.cnf',
  );
  ca = fs.readFileSync(path.join(dir, 'ca.pem'), 'utf8');
  srv = https.createServer(
    {
      key: fs.readFileSync(path.join(dir, 'srv.key')),
      cert: fs.readFileSync(path.join(dir, 'srv.pem')),
    },
    (req, res) => {
      seen.push({
        servername: (req.socket as import('node:tls').TLSSocket).servername,
        host: req.headers.host,
      });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"version":"app-new"}');
    },
  );
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  url = `https://127.0.0.1:${(srv.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => srv.close(resolve));
  fs.rmSync(dir, { recursive: true, force: true });
});

test('https:// to the NLB address, presenting the host name the certificate covers: PASS', async () => {
  seen.length = 0;
  const r = await smokeTest({
    url,
    expectVersion: 'app-new',
    tlsHostName: 'hello.example.test',
    tlsCa: ca,
    timeoutMs: 5000,
    intervalMs: 10,
    log: () => undefined,
  });
  expect(r).toMatchObject({ ok: true, attempts: 1 });
  expect(seen).toEqual([{ servername: 'hello.example.test', host: 'hello.example.test' }]);
});

test('a certificate that does not cover the host name fails at once, saying so (no retries until the timeout)', async () => {
  const lines: string[] = [];
  const r = await smokeTest({
    url,
    expectVersion: 'app-new',
    tlsHostName: 'other.example.test',
    tlsCa: ca,
    timeoutMs: 60000,
    intervalMs: 10,
    log: (l) => lines.push(l),
  });
  expect(r).toMatchObject({ ok: false, attempts: 1 });
  expect(r.reason).toMatch(
    /the TLS certificate is not valid for other\.example\.test: .*\(ERR_TLS_CERT_ALTNAME_INVALID\); check certificateArn and tlsHostName$/,
  );
  expect(lines[lines.length - 1]).toBe(`smoke-test: FAIL ${r.reason}`);
});

test('an untrusted certificate fails at once too', async () => {
  const r = await smokeTest({
    url,
    expectVersion: 'app-new',
    tlsHostName: 'hello.example.test',
    timeoutMs: 60000,
    intervalMs: 10,
    log: () => undefined,
  });
  expect(r).toMatchObject({ ok: false, attempts: 1 });
  expect(r.reason).toMatch(
    /not valid for hello\.example\.test: .*\((UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)\)/,
  );
});

test('--tls-host-name needs an https:// URL and a DNS name: exit 2 before any request', async () => {
  const errors: string[] = [];
  const spy = jest.spyOn(console, 'error').mockImplementation((m: string) => errors.push(m));
  try {
    expect(
      await main([
        '--url',
        'http://example.test',
        '--expect-version',
        'v1',
        '--tls-host-name',
        'hello.example.test',
      ]),
    ).toBe(2);
    expect(
      await main([
        '--url',
        'https://example.test',
        '--expect-version',
        'v1',
        '--tls-host-name',
        'hello example;rm',
      ]),
    ).toBe(2);
  } finally {
    spy.mockRestore();
  }
  expect(errors.join('\n')).toContain(
    '--tls-host-name needs an https:// --url, got "http://example.test"',
  );
  expect(errors.join('\n')).toContain('--tls-host-name must be a DNS name');
});
