import { CreateRepositoryCommand, ECRClient, PutImageCommand } from '@aws-sdk/client-ecr';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { type FaultProxy, type ProxiedCall, startFaultProxy } from '../../../support/fault-proxy';
import { type MotoServer, motoAvailable, motoEnv, startMoto } from '../../../support/moto';
import { MOTO_ACCOUNT, imageManifest } from '../../../support/ecr';
import { type NodeRun, bundleImageGate, gateLines, runNode } from './run-node';

/**
 * The bundled gate (what the pipeline runs) against moto_server: real ECR wire format, real
 * StartImageScan on a never-scanned image, moto's configurable scan findings.
 */
const available = motoAvailable();
const describeWithMoto = available ? describe : describe.skip;

const ACCOUNT = MOTO_ACCOUNT;
let moto: MotoServer | undefined;
let dir: string;
let bundle: string;

function finding(
  name: string,
  severity: string,
  pkg: string,
  version: string,
): Record<string, unknown> {
  return {
    name,
    severity,
    uri: `https://nvd.nist.gov/vuln/detail/${name}`,
    attributes: [
      { key: 'package_version', value: version },
      { key: 'package_name', value: pkg },
    ],
  };
}

/** What moto's DescribeImageScanFindings returns for repo:tag (moto 5: POST /moto-api/static/ecr/scan-finding-results). */
async function setScanResult(
  region: string,
  tag: string,
  status: string,
  description: string,
  findings: Record<string, unknown>[],
): Promise<void> {
  const counts: Record<string, number> = {};
  for (const f of findings) counts[f.severity as string] = (counts[f.severity as string] ?? 0) + 1;
  const res = await fetch(`${moto?.endpoint}/moto-api/static/ecr/scan-finding-results`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      account_id: ACCOUNT,
      region,
      results: [
        {
          registryId: ACCOUNT,
          repositoryName: 'hello-web',
          imageId: { imageTag: tag },
          imageScanStatus: { status, description },
          imageScanFindings: { findings, findingSeverityCounts: counts },
        },
      ],
    }),
  });
  if (res.status !== 201)
    throw new Error(`moto scan-finding-results: HTTP ${res.status} ${await res.text()}`);
}

async function seed(endpoint: string): Promise<void> {
  const clients = new Map<string, ECRClient>();
  const ecr = (region: string): ECRClient => {
    let client = clients.get(region);
    if (!client) {
      client = new ECRClient({
        region,
        endpoint,
        credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
      });
      clients.set(region, client);
    }
    return client;
  };
  // eu-west-1 is the source; us-east-1 stands in for a replica: same manifest, so the same digest.
  for (const region of ['eu-west-1', 'us-east-1']) {
    await ecr(region).send(
      new CreateRepositoryCommand({ repositoryName: 'hello-web', imageTagMutability: 'IMMUTABLE' }),
    );
    await ecr(region).send(
      new PutImageCommand({
        repositoryName: 'hello-web',
        imageTag: 'clean-1',
        imageManifest: imageManifest('a'),
      }),
    );
    await setScanResult(region, 'clean-1', 'COMPLETE', 'The scan was completed successfully.', [
      finding('CVE-2023-44487', 'HIGH', 'golang.org/x/net', '0.15.0'),
      finding('CVE-2022-48174', 'LOW', 'busybox', '1.36.1'),
    ]);
  }
  await ecr('eu-west-1').send(
    new PutImageCommand({
      repositoryName: 'hello-web',
      imageTag: 'vuln-1',
      imageManifest: imageManifest('b'),
    }),
  );
  await setScanResult('eu-west-1', 'vuln-1', 'COMPLETE', 'The scan was completed successfully.', [
    finding('CVE-2024-45337', 'CRITICAL', 'golang.org/x/crypto', '0.28.0'),
    finding('CVE-2023-44487', 'HIGH', 'golang.org/x/net', '0.15.0'),
    finding('CVE-2022-48174', 'LOW', 'busybox', '1.36.1'),
  ]);
  await ecr('eu-west-1').send(
    new PutImageCommand({
      repositoryName: 'hello-web',
      imageTag: 'broken-1',
      imageManifest: imageManifest('d'),
    }),
  );
  await ecr('eu-west-1').send(
    new PutImageCommand({
      repositoryName: 'hello-web',
      imageTag: 'fresh-1',
      imageManifest: imageManifest('e'),
    }),
  );
  await setScanResult(
    'eu-west-1',
    'broken-1',
    'UNSUPPORTED_IMAGE',
    'The operating system and/or package manager are not supported.',
    [],
  );
  for (const client of clients.values()) client.destroy();
}

/** moto emulates basic scanning (a scan exists once StartImageScan made one): BASIC unless a test says otherwise. */
function gate(args: string[], endpoint = moto?.endpoint): Promise<NodeRun> {
  if (!endpoint) throw new Error('moto is not running');
  const scanType = args.includes('--scan-type') ? [] : ['--scan-type', 'BASIC'];
  return runNode(bundle, [...args, ...scanType, '--poll-interval', '1'], {
    cwd: dir,
    env: motoEnv(endpoint),
  });
}

beforeAll(async () => {
  if (!available) return;
  let built: Awaited<ReturnType<typeof bundleImageGate>>;
  [moto, built] = await Promise.all([startMoto(), bundleImageGate()]);
  ({ dir, bundle } = built);
  await seed(moto.endpoint);
}, 60000);

afterAll(async () => {
  await moto?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describeWithMoto('image gate against moto_server', () => {
  test('PASS (exit 0): image.json gives the tag, both regions scanned on demand, HIGH and LOW only counted', async () => {
    fs.writeFileSync(
      path.join(dir, 'image.json'),
      JSON.stringify({ repositoryName: 'hello-web', tag: 'clean-1' }),
    );

    const run = await gate([
      '--repository',
      'hello-web',
      '--tag-file',
      'image.json',
      '--regions',
      'eu-west-1,us-east-1',
      '--timeout',
      '30',
    ]);
    const out = gateLines(run.stdout);

    expect(gateLines(run.stderr)).toEqual([]);
    expect(run.code).toBe(0);
    for (const region of ['eu-west-1', 'us-east-1']) {
      expect(out).toContainEqual(
        expect.stringMatching(
          new RegExp(
            `^\\[${region}\\] found hello-web:clean-1 as sha256:[0-9a-f]{64} \\(\\d+s\\)$`,
          ),
        ),
      );
      // moto, like ECR for a replica, has no scan until one is started
      expect(out).toContainEqual(
        expect.stringMatching(
          new RegExp(
            `^\\[${region}\\] no scan of sha256:[0-9a-f]{64} yet: starting one \\(StartImageScan\\)$`,
          ),
        ),
      );
      expect(out).toContainEqual(
        expect.stringMatching(
          new RegExp(
            `^\\[${region}\\] scan COMPLETE \\(\\d+s\\): CRITICAL 0, HIGH 1, MEDIUM 0, LOW 1, INFORMATIONAL 0, UNDEFINED 0$`,
          ),
        ),
      );
    }
    expect(out[out.length - 1]).toMatch(
      /^image-gate: PASS hello-web:clean-1 \(sha256:[0-9a-f]{64}\): no findings at or above CRITICAL in eu-west-1, us-east-1 \(eu-west-1: HIGH 1, LOW 1; us-east-1: HIGH 1, LOW 1\)$/,
    );
  });

  test('BLOCKED (exit 1): findings at or above --fail-on HIGH listed with CVE, package, version and URI', async () => {
    const run = await gate([
      '--repository',
      'hello-web',
      '--tag',
      'vuln-1',
      '--regions',
      'eu-west-1',
      '--fail-on',
      'HIGH',
      '--timeout',
      '30',
    ]);
    const out = gateLines(run.stdout);

    expect(run.code).toBe(1);
    expect(out).toContainEqual(
      expect.stringMatching(
        /^\[eu-west-1\] scan COMPLETE \(\d+s\): CRITICAL 1, HIGH 1, MEDIUM 0, LOW 1, INFORMATIONAL 0, UNDEFINED 0$/,
      ),
    );
    const table = out.filter((l) => l.startsWith('[eu-west-1]   '));
    expect(table).toHaveLength(3);
    expect(table[1]).toMatch(
      /CRITICAL\s+CVE-2024-45337\s+golang\.org\/x\/crypto\s+0\.28\.0\s+https:\/\/nvd\.nist\.gov\/vuln\/detail\/CVE-2024-45337$/,
    );
    expect(table[2]).toMatch(/HIGH\s+CVE-2023-44487\s+golang\.org\/x\/net\s+0\.15\.0\s+https:/);
    expect(run.stdout).not.toContain('CVE-2022-48174'); // LOW: below the threshold, counted only
    expect(gateLines(run.stderr)).toEqual([
      'image-gate: BLOCKED hello-web:vuln-1: 2 findings at or above HIGH in eu-west-1 (CVE-2024-45337, CVE-2023-44487)',
    ]);
  });

  test('TIMEOUT (exit 124): an image that never arrives times out, with or without the repository', async () => {
    // eu-west-1 has the repository but not the tag; ap-southeast-2 has no repository at all
    const run = await gate([
      '--repository',
      'hello-web',
      '--tag',
      'not-pushed',
      '--regions',
      'eu-west-1,ap-southeast-2',
      '--timeout',
      '2',
    ]);
    const out = gateLines(run.stdout);

    expect(run.code).toBe(124);
    // polled about once a second until the deadline, in both regions
    for (const region of ['eu-west-1', 'ap-southeast-2']) {
      expect(
        out.filter((l) =>
          new RegExp(`^\\[${region}\\] waiting for replication \\(\\d+s\\)$`).test(l),
        ).length,
      ).toBeGreaterThanOrEqual(2);
    }
    expect(gateLines(run.stderr)).toEqual([
      expect.stringMatching(
        /^image-gate: TIMEOUT image hello-web:not-pushed not found in eu-west-1 after [23]s \(--timeout 2\); image hello-web:not-pushed not found in ap-southeast-2 after [23]s \(--timeout 2\)$/,
      ),
    ]);
  });

  test('ERROR (exit 3): a scan that ends UNSUPPORTED_IMAGE, with its description', async () => {
    const run = await gate([
      '--repository',
      'hello-web',
      '--tag',
      'broken-1',
      '--regions',
      'eu-west-1',
      '--timeout',
      '30',
    ]);

    expect(run.code).toBe(3);
    expect(gateLines(run.stderr)).toEqual([
      expect.stringMatching(
        /^image-gate: ERROR scan of hello-web:broken-1 \(sha256:[0-9a-f]{64}\) in eu-west-1 ended UNSUPPORTED_IMAGE: The operating system and\/or package manager are not supported\. \(the scanner cannot read this image .*\)$/,
      ),
    ]);
  });

  test('ENHANCED never calls StartImageScan: with no scan of the image it waits and times out (exit 124)', async () => {
    const run = await gate([
      '--repository',
      'hello-web',
      '--tag',
      'fresh-1',
      '--regions',
      'eu-west-1',
      '--scan-type',
      'ENHANCED',
      '--timeout',
      '2',
    ]);
    const out = gateLines(run.stdout);

    expect(run.code).toBe(124);
    expect(out).toContainEqual(
      expect.stringMatching(/^\[eu-west-1\] waiting for the scan to start \(\d+s\)$/),
    );
    expect(out.join('\n')).not.toContain('StartImageScan');
    // moto would have created a scan on StartImageScan: the scan never started, so none was called
    expect(gateLines(run.stderr)).toEqual([
      expect.stringMatching(
        /^image-gate: TIMEOUT scan of hello-web:fresh-1 \(sha256:[0-9a-f]{64}\) in eu-west-1 has not started after [23]s \(--timeout 2\)$/,
      ),
    ]);
  });
});

/**
 * issue 26: a findings listing that does not end normally is "could not check", never a verdict.
 * moto answers DescribeImageScanFindings in one page; a proxy in front of it (test/support/fault-proxy.ts)
 * adds the `nextToken` a misbehaving or changing listing would send, and the bundled gate's real
 * SDK client and paginator read it over the wire. DescribeImageScanFindings' nextToken and its
 * paging contract: https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_DescribeImageScanFindings.html
 */
describeWithMoto('image gate: a findings listing that does not end', () => {
  let proxy: FaultProxy | undefined;
  afterEach(async () => {
    await proxy?.stop();
    proxy = undefined;
  });
  const isFindings = (c: ProxiedCall) => c.operation === 'DescribeImageScanFindings';
  const pagesAsked = () => proxy?.calls.filter(isFindings).length ?? 0;
  const clean = [
    '--repository',
    'hello-web',
    '--tag',
    'clean-1',
    '--regions',
    'eu-west-1',
    '--fail-on',
    'CRITICAL',
  ];

  test('a nextToken that repeats (always page-0): exit 3, could not check, how far it read; never PASS', async () => {
    proxy = await startFaultProxy(moto?.endpoint as string, (c) =>
      isFindings(c)
        ? { kind: 'rewrite', rewrite: (a) => ({ ...a, nextToken: 'page-0' }) }
        : undefined,
    );
    const run = await gate([...clean, '--timeout', '30'], proxy.endpoint);
    const err = gateLines(run.stderr);

    expect(run.code).toBe(3);
    expect(run.stdout).not.toContain('image-gate: PASS');
    expect(err).toEqual([
      expect.stringMatching(
        /^image-gate: ERROR could not check hello-web:clean-1 in eu-west-1: DescribeImageScanFindings repeated the page token "page-0" after page 2, so the listing did not end \(read 2 pages, 4 findings\): no verdict$/,
      ),
    ]);
    // the first page with the scan status, then the page asked with page-0 that answered page-0 again
    expect(pagesAsked()).toBe(2);
  });

  test('a nextToken that never ends (page-1, page-2, ...): stops at the page cap, could not check, exit 3', async () => {
    let n = 0;
    proxy = await startFaultProxy(moto?.endpoint as string, (c) =>
      isFindings(c)
        ? { kind: 'rewrite', rewrite: (a) => ({ ...a, nextToken: `page-${(n += 1)}` }) }
        : undefined,
    );
    const run = await gate([...clean, '--timeout', '60'], proxy.endpoint);

    expect(run.code).toBe(3);
    expect(gateLines(run.stderr)).toEqual([
      expect.stringMatching(
        /^image-gate: ERROR could not check hello-web:clean-1 in eu-west-1: DescribeImageScanFindings still had a next page after 100 pages \(the page cap\), so the listing did not end \(read 100 pages, 200 findings\): no verdict$/,
      ),
    ]);
    expect(pagesAsked()).toBe(100);
  });

  test('a page that never answers: exit 124 at --timeout, could not check, how far it read', async () => {
    let n = 0;
    proxy = await startFaultProxy(moto?.endpoint as string, (c) => {
      if (!isFindings(c)) return undefined;
      n += 1;
      // the third page's answer is lost: the gate's deadline ends the wait
      return n >= 3
        ? { kind: 'lose-answer', ms: 60000 }
        : { kind: 'rewrite', rewrite: (a) => ({ ...a, nextToken: `page-${n}` }) };
    });
    const started = Date.now();
    const run = await gate([...clean, '--timeout', '8'], proxy.endpoint);

    expect(run.code).toBe(124);
    expect(Date.now() - started).toBeLessThan(25000);
    expect(gateLines(run.stderr)).toEqual([
      expect.stringMatching(
        /^image-gate: TIMEOUT could not check hello-web:clean-1 in eu-west-1: page 3 of DescribeImageScanFindings did not answer before --timeout 8 \(read 2 pages, 4 findings\): no verdict$/,
      ),
    ]);
  });
});
