import {
  DescribeImageReplicationStatusCommand,
  DescribeImageScanFindingsCommand,
  DescribeImagesCommand,
  ECRClient,
  LimitExceededException,
  ScanStatus,
  StartImageScanCommand,
  UnsupportedImageTypeException,
} from '@aws-sdk/client-ecr';
import 'aws-sdk-client-mock-jest';
import * as net from 'node:net';
import {
  MAX_FINDINGS_PAGES,
  SCAN_STATUS_HANDLING,
  runGate,
} from '../../../../tools/pipeline/image-gate/gate';
import {
  DIGEST,
  OPTIONS,
  PUSHED_AT,
  SCANNED_AT,
  basicFinding,
  completeScan,
  imageFound,
  imageNotFound,
  regionMocks,
  repositoryNotFound,
  scanNotFound,
  scanStatus,
} from './fixtures';

describe('image gate: pass', () => {
  test('no findings: exit 0, counts printed, no scan started', async () => {
    const { mocks, deps, lines } = regionMocks(['eu-west-1']);
    mocks['eu-west-1']
      .on(DescribeImagesCommand)
      .resolves(imageFound)
      .on(DescribeImageScanFindingsCommand)
      .resolves(completeScan([]));

    const result = await runGate(OPTIONS, deps);

    expect(result).toMatchObject({ verdict: 'PASS', exitCode: 0, findings: [] });
    expect(result.reason).toBe(
      `hello-web:v1 (${DIGEST}): no findings at or above CRITICAL in eu-west-1 (eu-west-1: no findings)`,
    );
    expect(lines).toContain(
      '[eu-west-1] scan COMPLETE (0s): CRITICAL 0, HIGH 0, MEDIUM 0, LOW 0, INFORMATIONAL 0, UNDEFINED 0',
    );
    expect(mocks['eu-west-1']).toHaveReceivedCommandWith(DescribeImagesCommand, {
      repositoryName: 'hello-web',
      imageIds: [{ imageTag: 'v1' }],
    });
    expect(mocks['eu-west-1']).toHaveReceivedCommandWith(DescribeImageScanFindingsCommand, {
      repositoryName: 'hello-web',
      imageId: { imageDigest: DIGEST },
    });
    expect(mocks['eu-west-1']).not.toHaveReceivedCommand(StartImageScanCommand);
  });

  test('findings only below the threshold: exit 0, counted but not listed', async () => {
    const { mocks, deps, lines } = regionMocks(['eu-west-1']);
    mocks['eu-west-1']
      .on(DescribeImagesCommand)
      .resolves(imageFound)
      .on(DescribeImageScanFindingsCommand)
      .resolves(
        completeScan([
          basicFinding('CVE-2024-0001', 'HIGH'),
          basicFinding('CVE-2024-0002', 'MEDIUM'),
          basicFinding('CVE-2024-0003', 'MEDIUM'),
        ]),
      );

    const result = await runGate(OPTIONS, deps);

    expect(result.exitCode).toBe(0);
    expect(result.reason).toMatch(/\(eu-west-1: HIGH 1, MEDIUM 2\)$/);
    expect(lines).toContain(
      '[eu-west-1] scan COMPLETE (0s): CRITICAL 0, HIGH 1, MEDIUM 2, LOW 0, INFORMATIONAL 0, UNDEFINED 0',
    );
    expect(lines.join('\n')).not.toContain('CVE-2024-0001');
  });
});

describe('image gate: block', () => {
  test('a finding at the threshold blocks (exit 1) and is listed with package, version and URI', async () => {
    const { mocks, deps, lines } = regionMocks(['eu-west-1']);
    mocks['eu-west-1']
      .on(DescribeImagesCommand)
      .resolves(imageFound)
      .on(DescribeImageScanFindingsCommand)
      .resolves(
        completeScan([
          basicFinding('CVE-2024-9999', 'CRITICAL', 'libexpat', '2.4.1'),
          basicFinding('CVE-2024-0001', 'HIGH'),
        ]),
      );

    const result = await runGate(OPTIONS, deps);

    expect(result).toMatchObject({ verdict: 'BLOCKED', exitCode: 1 });
    expect(result.reason).toBe(
      'hello-web:v1: 1 finding at or above CRITICAL in eu-west-1 (CVE-2024-9999)',
    );
    expect(result.findings).toEqual([
      {
        region: 'eu-west-1',
        severity: 'CRITICAL',
        name: 'CVE-2024-9999',
        packageName: 'libexpat',
        packageVersion: '2.4.1',
        uri: 'https://nvd.nist.gov/vuln/detail/CVE-2024-9999',
      },
    ]);
    const table = lines.filter((l) => l.startsWith('[eu-west-1]   '));
    expect(table[0]).toMatch(/SEVERITY\s+CVE\s+PACKAGE\s+VERSION\s+URI$/);
    expect(table[1]).toMatch(
      /CRITICAL\s+CVE-2024-9999\s+libexpat\s+2\.4\.1\s+https:\/\/nvd\.nist\.gov\/vuln\/detail\/CVE-2024-9999$/,
    );
    expect(table).toHaveLength(2);
  });

  test('--fail-on HIGH blocks on CRITICAL and HIGH, most severe first, and leaves LOW out', async () => {
    const { mocks, deps } = regionMocks(['eu-west-1']);
    mocks['eu-west-1']
      .on(DescribeImagesCommand)
      .resolves(imageFound)
      .on(DescribeImageScanFindingsCommand)
      .resolves(
        completeScan([
          basicFinding('CVE-2024-0003', 'LOW'),
          basicFinding('CVE-2024-0002', 'HIGH'),
          basicFinding('CVE-2024-0001', 'CRITICAL'),
        ]),
      );

    const result = await runGate({ ...OPTIONS, failOn: 'HIGH' }, deps);

    expect(result.exitCode).toBe(1);
    expect(result.findings.map((f) => [f.severity, f.name])).toEqual([
      ['CRITICAL', 'CVE-2024-0001'],
      ['HIGH', 'CVE-2024-0002'],
    ]);
    expect(result.reason).toContain(
      '2 findings at or above HIGH in eu-west-1 (CVE-2024-0001, CVE-2024-0002)',
    );
  });

  test('every page of findings is read (nextToken), and a later page can block', async () => {
    const { mocks, deps } = regionMocks(['eu-west-1']);
    // The SDK's paginator reuses one input object, so record each call's token when it is made.
    const asked: (string | undefined)[] = [];
    const pages: Record<string, ReturnType<typeof completeScan>> = {
      first: completeScan([basicFinding('CVE-2024-0001', 'LOW')], 'page-2'),
      'page-2': completeScan([basicFinding('CVE-2024-0002', 'MEDIUM')], 'page-3'),
      'page-3': completeScan([basicFinding('CVE-2024-0003', 'CRITICAL')]),
    };
    mocks['eu-west-1']
      .on(DescribeImagesCommand)
      .resolves(imageFound)
      .on(DescribeImageScanFindingsCommand)
      .callsFake((input: { nextToken?: string; imageId?: { imageDigest?: string } }) => {
        asked.push(`${input.nextToken ?? 'first'} ${input.imageId?.imageDigest}`);
        return pages[input.nextToken ?? 'first'];
      });

    const result = await runGate(OPTIONS, deps);

    expect(result.exitCode).toBe(1);
    expect(result.findings.map((f) => f.name)).toEqual(['CVE-2024-0003']);
    expect(result.regions[0].counts).toMatchObject({ CRITICAL: 1, MEDIUM: 1, LOW: 1 });
    expect(asked).toEqual([`first ${DIGEST}`, `page-2 ${DIGEST}`, `page-3 ${DIGEST}`]);
  });

  test('a page token that never ends is bounded: ERROR after MAX_FINDINGS_PAGES pages, not calls until the timeout', async () => {
    const { mocks, deps } = regionMocks(['eu-west-1']);
    let n = 0;
    mocks['eu-west-1']
      .on(DescribeImagesCommand)
      .resolves(imageFound)
      .on(DescribeImageScanFindingsCommand)
      .callsFake(() => completeScan([], `token-${(n += 1)}`));

    const result = await runGate({ ...OPTIONS, timeoutSeconds: 3600 }, deps);

    expect(result).toMatchObject({ verdict: 'ERROR', exitCode: 3 });
    expect(result.reason).toContain(
      `still had a next page after ${MAX_FINDINGS_PAGES} pages (the page cap), so the listing did not end (read ${MAX_FINDINGS_PAGES} pages, 0 findings): no verdict`,
    );
    expect(mocks['eu-west-1'].commandCalls(DescribeImageScanFindingsCommand).length).toBe(
      MAX_FINDINGS_PAGES,
    );
  });

  // The SDK paginator's stopOnSameToken would end here quietly and the gate would judge what it had
  // read (issue 26): a repeated token is a listing that did not end, so no verdict.
  test('a page token that repeats itself is "could not check" (ERROR), never PASS', async () => {
    const { mocks, deps } = regionMocks(['eu-west-1']);
    mocks['eu-west-1']
      .on(DescribeImagesCommand)
      .resolves(imageFound)
      .on(DescribeImageScanFindingsCommand)
      .callsFake(() => completeScan([basicFinding('CVE-2024-0001', 'LOW')], 'same'));

    const result = await runGate(OPTIONS, deps);

    expect(result).toMatchObject({ verdict: 'ERROR', exitCode: 3 });
    expect(result.reason).toBe(
      'could not check hello-web:v1 in eu-west-1: DescribeImageScanFindings repeated the page token "same" after page 2, so the listing did not end (read 2 pages, 2 findings): no verdict',
    );
    expect(mocks['eu-west-1'].commandCalls(DescribeImageScanFindingsCommand).length).toBe(2);
  });

  test('Inspector (enhanced) findings count too: CVE and package from the vulnerability details; CLOSED ones do not', async () => {
    const { mocks, deps, lines } = regionMocks(['eu-west-1']);
    const enhanced = (id: string, severity: string, status: string) => ({
      severity,
      status,
      title: `${id} - curl`,
      packageVulnerabilityDetails: {
        vulnerabilityId: id,
        sourceUrl: `https://example.test/${id}`,
        vulnerablePackages: [{ name: 'curl', version: '7.88.1' }],
      },
    });
    mocks['eu-west-1']
      .on(DescribeImagesCommand)
      .resolves(imageFound)
      .on(DescribeImageScanFindingsCommand)
      .resolves({
        $metadata: {},
        imageScanStatus: {
          status: 'ACTIVE',
          description: 'Continuous scan is selected for image.',
        },
        imageScanFindings: {
          imageScanCompletedAt: SCANNED_AT,
          enhancedFindings: [
            enhanced('CVE-2023-1111', 'CRITICAL', 'ACTIVE'),
            enhanced('CVE-2023-2222', 'CRITICAL', 'CLOSED'),
            enhanced('CVE-2023-3333', 'UNTRIAGED', 'ACTIVE'),
          ],
        },
      });

    const result = await runGate(OPTIONS, deps);

    expect(result.exitCode).toBe(1);
    // UNTRIAGED is not a severity the gate ranks: it blocks too (see 'unknown severities' below).
    expect(result.findings).toEqual([
      expect.objectContaining({ severity: 'UNTRIAGED', name: 'CVE-2023-3333' }),
      {
        region: 'eu-west-1',
        severity: 'CRITICAL',
        name: 'CVE-2023-1111',
        packageName: 'curl',
        packageVersion: '7.88.1',
        uri: 'https://example.test/CVE-2023-1111',
      },
    ]);
    expect(result.regions[0].counts).toMatchObject({ CRITICAL: 1, UNDEFINED: 0, UNRECOGNISED: 1 });
    expect(lines).toContain(
      '[eu-west-1] not counted: 1 CLOSED Inspector finding (no longer present in the image)',
    );
  });
});

describe('image gate: waiting for replication', () => {
  test('an image that never arrives times out with exit 124 (TIMEOUT) and says where', async () => {
    const { mocks, deps, lines, clock } = regionMocks(['eu-west-1']);
    mocks['eu-west-1'].on(DescribeImagesCommand).rejects(imageNotFound());

    const result = await runGate({ ...OPTIONS, timeoutSeconds: 30 }, deps);

    expect(result).toMatchObject({
      verdict: 'TIMEOUT',
      exitCode: 124,
      reason: 'image hello-web:v1 not found in eu-west-1 after 30s (--timeout 30)',
    });
    // polls at 0, 5, ..., 25 s, never sleeping past the deadline; at 30 s no call can finish in time
    expect(mocks['eu-west-1']).toHaveReceivedCommandTimes(DescribeImagesCommand, 6);
    expect(clock.slept).toEqual([5000, 5000, 5000, 5000, 5000, 5000]);
    expect(lines).toContain('[eu-west-1] waiting for replication (0s)');
    expect(lines).toContain('[eu-west-1] waiting for replication (25s)');
    expect(mocks['eu-west-1']).not.toHaveReceivedCommand(DescribeImageScanFindingsCommand);
  });

  test('the last sleep is cut short at the deadline', async () => {
    const { mocks, deps, clock } = regionMocks(['eu-west-1']);
    mocks['eu-west-1'].on(DescribeImagesCommand).rejects(repositoryNotFound());

    const result = await runGate({ ...OPTIONS, timeoutSeconds: 12 }, deps);

    expect(result.reason).toBe(
      'image hello-web:v1 not found in eu-west-1 after 12s (--timeout 12)',
    );
    expect(clock.slept).toEqual([5000, 5000, 2000]);
  });

  test('the replica repository and image appear after a few polls: the gate goes on to the scan', async () => {
    const { mocks, deps, lines } = regionMocks(['eu-west-1']);
    mocks['eu-west-1']
      .on(DescribeImagesCommand)
      .rejectsOnce(repositoryNotFound())
      .rejectsOnce(imageNotFound())
      .resolves(imageFound)
      .on(DescribeImageScanFindingsCommand)
      .resolves(completeScan([]));

    const result = await runGate(OPTIONS, deps);

    expect(result.exitCode).toBe(0);
    expect(mocks['eu-west-1']).toHaveReceivedCommandTimes(DescribeImagesCommand, 3);
    expect(lines.slice(1, 4)).toEqual([
      '[eu-west-1] waiting for replication (0s)',
      '[eu-west-1] waiting for replication (5s)',
      `[eu-west-1] found hello-web:v1 as ${DIGEST} (10s)`,
    ]);
  });

  test('any other DescribeImages error stops at once with exit 3', async () => {
    const { mocks, deps } = regionMocks(['eu-west-1']);
    const denied = Object.assign(
      new Error('User is not authorized to perform: ecr:DescribeImages'),
      { name: 'AccessDeniedException' },
    );
    mocks['eu-west-1'].on(DescribeImagesCommand).rejects(denied);

    const result = await runGate(OPTIONS, deps);

    expect(result).toMatchObject({
      exitCode: 3,
      reason:
        'DescribeImages for hello-web:v1 in eu-west-1 failed: AccessDeniedException: User is not authorized to perform: ecr:DescribeImages',
    });
    expect(mocks['eu-west-1']).toHaveReceivedCommandTimes(DescribeImagesCommand, 1);
  });

  test('a hung ECR call is abandoned after callTimeoutMs (the SDK has no limit of its own): exit 3', async () => {
    // a real client against a server that accepts connections and never answers
    const sockets: net.Socket[] = [];
    const server = net.createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const endpoint = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
    const client = new ECRClient({
      region: 'eu-west-1',
      endpoint,
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    });
    try {
      const { deps } = regionMocks([]);
      const result = await runGate(OPTIONS, {
        ...deps,
        ecrClient: () => client,
        callTimeoutMs: 200,
      });

      expect(result).toMatchObject({
        exitCode: 3,
        reason:
          'DescribeImages for hello-web:v1 in eu-west-1 failed: no answer from ECR in time (the call was abandoned)',
      });
      expect(sockets.length).toBeGreaterThan(0); // the call really went out
    } finally {
      client.destroy();
      sockets.forEach((s) => s.destroy());
      await new Promise((resolve) => server.close(resolve));
    }
  });

  test('--registry-id is passed to every call', async () => {
    const { mocks, deps } = regionMocks(['eu-west-1']);
    mocks['eu-west-1']
      .on(DescribeImagesCommand)
      .resolves(imageFound)
      .on(DescribeImageScanFindingsCommand)
      .rejectsOnce(scanNotFound())
      .resolves(completeScan([]));

    await runGate({ ...OPTIONS, registryId: '333333333333', scanType: 'BASIC' }, deps);

    expect(mocks['eu-west-1']).toHaveReceivedCommandWith(DescribeImagesCommand, {
      registryId: '333333333333',
    });
    expect(mocks['eu-west-1']).toHaveReceivedCommandWith(DescribeImageScanFindingsCommand, {
      registryId: '333333333333',
    });
    expect(mocks['eu-west-1']).toHaveReceivedCommandWith(StartImageScanCommand, {
      registryId: '333333333333',
    });
  });
});

describe('image gate: waiting for the scan', () => {
  test('IN_PROGRESS, then PENDING, then COMPLETE: waits, prints progress, then evaluates', async () => {
    const { mocks, deps, lines } = regionMocks(['eu-west-1']);
    mocks['eu-west-1']
      .on(DescribeImagesCommand)
      .resolves(imageFound)
      .on(DescribeImageScanFindingsCommand)
      .resolvesOnce(scanStatus('IN_PROGRESS'))
      .resolvesOnce(scanStatus('PENDING'))
      .resolves(completeScan([basicFinding('CVE-2024-0001', 'CRITICAL')]));

    const result = await runGate(OPTIONS, deps);

    expect(result.exitCode).toBe(1);
    expect(lines).toContain('[eu-west-1] scan IN_PROGRESS (0s)');
    expect(lines).toContain('[eu-west-1] scan PENDING (5s)');
    expect(lines).toContain(
      '[eu-west-1] scan COMPLETE (10s): CRITICAL 1, HIGH 0, MEDIUM 0, LOW 0, INFORMATIONAL 0, UNDEFINED 0',
    );
  });

  test('BASIC, no scan yet (a replica): StartImageScan once for the digest, then the result is evaluated', async () => {
    const { mocks, deps, lines } = regionMocks(['eu-west-1']);
    mocks['eu-west-1']
      .on(DescribeImagesCommand)
      .resolves(imageFound)
      .on(DescribeImageScanFindingsCommand)
      .rejectsOnce(scanNotFound())
      .rejectsOnce(scanNotFound()) // the scan takes a moment to register
      .resolvesOnce(scanStatus('IN_PROGRESS'))
      .resolves(completeScan([]))
      .on(StartImageScanCommand)
      .resolves({ imageScanStatus: { status: 'IN_PROGRESS' } });

    const result = await runGate({ ...OPTIONS, scanType: 'BASIC' }, deps);

    expect(result.exitCode).toBe(0);
    expect(mocks['eu-west-1']).toHaveReceivedCommandTimes(StartImageScanCommand, 1);
    expect(mocks['eu-west-1']).toHaveReceivedCommandWith(StartImageScanCommand, {
      repositoryName: 'hello-web',
      imageId: { imageDigest: DIGEST },
    });
    expect(lines).toContain(`[eu-west-1] no scan of ${DIGEST} yet: starting one (StartImageScan)`);
    expect(lines).toContain('[eu-west-1] waiting for the scan to start (5s)');
  });

  test('BASIC: StartImageScan LimitExceeded (already scanned today): keeps waiting for that scan', async () => {
    const { mocks, deps, lines } = regionMocks(['eu-west-1']);
    mocks['eu-west-1']
      .on(DescribeImagesCommand)
      .resolves(imageFound)
      .on(DescribeImageScanFindingsCommand)
      .rejectsOnce(scanNotFound())
      .resolves(completeScan([]))
      .on(StartImageScanCommand)
      .rejects(
        new LimitExceededException({
          message: 'The scan quota per image has been exceeded. Wait and try again.',
          $metadata: {},
        }),
      );

    const result = await runGate({ ...OPTIONS, scanType: 'BASIC' }, deps);

    expect(result.exitCode).toBe(0);
    expect(
      lines.some((l) => l.startsWith('[eu-west-1] StartImageScan: LimitExceededException')),
    ).toBe(true);
  });

  test('BASIC: StartImageScan failing otherwise: exit 3 with the reason', async () => {
    const { mocks, deps } = regionMocks(['eu-west-1']);
    mocks['eu-west-1']
      .on(DescribeImagesCommand)
      .resolves(imageFound)
      .on(DescribeImageScanFindingsCommand)
      .rejects(scanNotFound())
      .on(StartImageScanCommand)
      .rejects(
        new UnsupportedImageTypeException({
          message: 'The image is of a type that cannot be scanned.',
          $metadata: {},
        }),
      );

    const result = await runGate({ ...OPTIONS, scanType: 'BASIC' }, deps);

    expect(result).toMatchObject({
      exitCode: 3,
      reason:
        'StartImageScan for hello-web:v1 in eu-west-1 failed: UnsupportedImageTypeException: The image is of a type that cannot be scanned.',
    });
  });

  test.each([
    ['FAILED', 'The scan failed for an unknown reason.'],
    ['UNSUPPORTED_IMAGE', 'The operating system and/or package manager are not supported.'],
    ['FINDINGS_UNAVAILABLE', 'Findings are no longer available.'],
    ['LIMIT_EXCEEDED', 'Scan limit exceeded.'],
    ['IMAGE_ARCHIVED', 'The image is archived.'],
    ['SOMETHING_NEW', 'A status ECR may add later.'],
  ] as const)(
    'scan %s: exit 3 with the scan description and what it means',
    async (status, description) => {
      const { mocks, deps } = regionMocks(['eu-west-1']);
      mocks['eu-west-1']
        .on(DescribeImagesCommand)
        .resolves(imageFound)
        .on(DescribeImageScanFindingsCommand)
        .resolves(scanStatus(status, description));

      const result = await runGate(OPTIONS, deps);

      expect(result).toMatchObject({ verdict: 'ERROR', exitCode: 3 });
      expect(result.reason).toMatch(
        new RegExp(
          `^scan of hello-web:v1 \\(${DIGEST}\\) in eu-west-1 ended ${status}: ${description.replace('.', '\\.')} \\(.+\\)$`,
        ),
      );
      expect(mocks['eu-west-1']).toHaveReceivedCommandTimes(DescribeImageScanFindingsCommand, 1);
    },
  );

  test('a scan stuck IN_PROGRESS times out with exit 124', async () => {
    const { mocks, deps } = regionMocks(['eu-west-1']);
    mocks['eu-west-1']
      .on(DescribeImagesCommand)
      .resolves(imageFound)
      .on(DescribeImageScanFindingsCommand)
      .resolves(scanStatus('IN_PROGRESS'));

    const result = await runGate({ ...OPTIONS, timeoutSeconds: 20 }, deps);

    expect(result).toMatchObject({
      exitCode: 124,
      reason: `scan of hello-web:v1 (${DIGEST}) in eu-west-1 is still IN_PROGRESS after 20s (--timeout 20)`,
    });
  });

  test('BASIC: a scan that never starts times out with exit 124', async () => {
    const { mocks, deps } = regionMocks(['eu-west-1']);
    mocks['eu-west-1']
      .on(DescribeImagesCommand)
      .resolves(imageFound)
      .on(DescribeImageScanFindingsCommand)
      .rejects(scanNotFound())
      .on(StartImageScanCommand)
      .resolves({});

    const result = await runGate({ ...OPTIONS, timeoutSeconds: 10, scanType: 'BASIC' }, deps);

    expect(result).toMatchObject({
      exitCode: 124,
      reason: `scan of hello-web:v1 (${DIGEST}) in eu-west-1 has not started after 10s (--timeout 10)`,
    });
    expect(mocks['eu-west-1']).toHaveReceivedCommandTimes(StartImageScanCommand, 1);
  });
});

describe('image gate: several regions', () => {
  const regions = ['eu-west-1', 'us-east-1', 'ap-southeast-2'];

  test('one region blocking makes the verdict BLOCKED (exit 1), naming that region', async () => {
    const { mocks, deps } = regionMocks(regions);
    for (const region of regions)
      mocks[region]
        .on(DescribeImagesCommand)
        .resolves(imageFound)
        .on(DescribeImageScanFindingsCommand)
        .resolves(completeScan([]));
    mocks['us-east-1']
      .on(DescribeImageScanFindingsCommand)
      .resolves(completeScan([basicFinding('CVE-2024-4242', 'CRITICAL')]));

    const result = await runGate({ ...OPTIONS, regions }, deps);

    expect(result.exitCode).toBe(1);
    expect(result.regions.map((r) => [r.region, r.verdict])).toEqual([
      ['eu-west-1', 'PASS'],
      ['us-east-1', 'BLOCKED'],
      ['ap-southeast-2', 'PASS'],
    ]);
    expect(result.reason).toBe(
      'hello-web:v1: 1 finding at or above CRITICAL in us-east-1 (CVE-2024-4242)',
    );
    expect(result.findings).toEqual([
      expect.objectContaining({ region: 'us-east-1', name: 'CVE-2024-4242' }),
    ]);
  });

  test('all passing: exit 0, every region named', async () => {
    const { mocks, deps } = regionMocks(regions);
    for (const region of regions)
      mocks[region]
        .on(DescribeImagesCommand)
        .resolves(imageFound)
        .on(DescribeImageScanFindingsCommand)
        .resolves(completeScan([]));

    const result = await runGate({ ...OPTIONS, regions }, deps);

    expect(result.exitCode).toBe(0);
    expect(result.reason).toContain('in eu-west-1, us-east-1, ap-southeast-2');
  });

  test('a missing image in one region and findings in another: exit 124, both reported', async () => {
    const { mocks, deps } = regionMocks(regions);
    mocks['eu-west-1']
      .on(DescribeImagesCommand)
      .resolves(imageFound)
      .on(DescribeImageScanFindingsCommand)
      .resolves(completeScan([basicFinding('CVE-2024-4242', 'CRITICAL')]));
    mocks['us-east-1'].on(DescribeImagesCommand).rejects(repositoryNotFound());
    mocks['ap-southeast-2']
      .on(DescribeImagesCommand)
      .resolves(imageFound)
      .on(DescribeImageScanFindingsCommand)
      .resolves(completeScan([]));

    const result = await runGate({ ...OPTIONS, regions, timeoutSeconds: 10 }, deps);

    expect(result.exitCode).toBe(124);
    expect(result.reason).toMatch(
      /^image hello-web:v1 not found in us-east-1 after \d+s \(--timeout 10\); also BLOCKED 1 finding at or above CRITICAL in eu-west-1 \(CVE-2024-4242\)$/,
    );
  });

  test('a region whose client cannot even be built is an ERROR for that region, not a crash', async () => {
    const { mocks, deps } = regionMocks(['eu-west-1']);
    mocks['eu-west-1']
      .on(DescribeImagesCommand)
      .resolves(imageFound)
      .on(DescribeImageScanFindingsCommand)
      .resolves(completeScan([]));

    const result = await runGate({ ...OPTIONS, regions: ['eu-west-1', 'us-west-2'] }, deps);

    expect(result.exitCode).toBe(3);
    expect(result.regions[0].verdict).toBe('PASS');
    expect(result.reason).toBe('us-west-2: test set-up: no client for us-west-2');
  });
});

describe('image gate: scan read where the image was pushed (--scan-region)', () => {
  test('replication is checked in the stage region, findings are read in the scan region for the same digest', async () => {
    const { mocks, deps, lines } = regionMocks(['us-east-1', 'eu-west-1']);
    mocks['us-east-1'].on(DescribeImagesCommand).resolves(imageFound);
    mocks['eu-west-1']
      .on(DescribeImagesCommand)
      .resolves(imageFound)
      .on(DescribeImageScanFindingsCommand)
      .resolves({
        ...completeScan([basicFinding('CVE-2024-4242', 'CRITICAL')]),
        imageScanStatus: { status: 'ACTIVE' },
      });

    const result = await runGate(
      { ...OPTIONS, regions: ['us-east-1'], scanRegion: 'eu-west-1' },
      deps,
    );

    expect(result.exitCode).toBe(1);
    expect(mocks['us-east-1'].commandCalls(DescribeImageScanFindingsCommand)).toHaveLength(0);
    // The push time the scan must be newer than is the source's, read by digest.
    expect(
      mocks['eu-west-1'].commandCalls(DescribeImagesCommand).map((c) => c.args[0].input.imageIds),
    ).toEqual([[{ imageDigest: DIGEST }]]);
    expect(
      mocks['eu-west-1'].commandCalls(DescribeImageScanFindingsCommand)[0].args[0].input.imageId,
    ).toEqual({ imageDigest: DIGEST });
    expect(lines.join('\n')).toContain(
      `[us-east-1] reading the scan of ${DIGEST} in eu-west-1 (same digest)`,
    );
  });

  test('a scan region that never scans the image times out naming that region', async () => {
    const { mocks, deps } = regionMocks(['us-east-1', 'eu-west-1']);
    mocks['us-east-1'].on(DescribeImagesCommand).resolves(imageFound);
    mocks['eu-west-1']
      .on(DescribeImagesCommand)
      .resolves(imageFound)
      .on(DescribeImageScanFindingsCommand)
      .resolves(scanStatus('PENDING'));

    const result = await runGate(
      { ...OPTIONS, regions: ['us-east-1'], scanRegion: 'eu-west-1', timeoutSeconds: 20 },
      deps,
    );

    expect(result.exitCode).toBe(124);
    expect(result.reason).toMatch(
      /scan of hello-web:v1 \(sha256:[0-9a-f]+\) in eu-west-1 is still PENDING after \d+s/,
    );
  });
});

describe('image gate: every scan status, on purpose', () => {
  test("each status of the SDK's ScanStatus (the ECR API reference's list) has a documented handling", () => {
    // https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_ImageScanStatus.html
    const documented = [
      'IN_PROGRESS',
      'COMPLETE',
      'FAILED',
      'UNSUPPORTED_IMAGE',
      'ACTIVE',
      'PENDING',
      'SCAN_ELIGIBILITY_EXPIRED',
      'FINDINGS_UNAVAILABLE',
      'LIMIT_EXCEEDED',
      'IMAGE_ARCHIVED',
    ];
    expect(Object.keys(SCAN_STATUS_HANDLING).sort()).toEqual([...documented].sort());
    expect(Object.values(ScanStatus).sort()).toEqual([...documented].sort());
  });

  test('ENHANCED never calls StartImageScan (a basic-scanning API): with no scan yet it waits, then times out (exit 124)', async () => {
    const { mocks, deps, lines } = regionMocks(['eu-west-1']);
    mocks['eu-west-1']
      .on(DescribeImagesCommand)
      .resolves(imageFound)
      .on(DescribeImageScanFindingsCommand)
      .rejects(scanNotFound());

    const result = await runGate({ ...OPTIONS, timeoutSeconds: 20 }, deps);

    expect(result).toMatchObject({
      verdict: 'TIMEOUT',
      exitCode: 124,
      reason: `scan of hello-web:v1 (${DIGEST}) in eu-west-1 has not started after 20s (--timeout 20)`,
    });
    expect(mocks['eu-west-1']).not.toHaveReceivedCommand(StartImageScanCommand);
    expect(lines).toContain('[eu-west-1] waiting for the scan to start (0s)');
  });

  test("ENHANCED: a COMPLETE with no findings from before the push is not this image's result: the gate waits for a scan after the push", async () => {
    const { mocks, deps, lines } = regionMocks(['eu-west-1']);
    const early = completeScan([]);
    const stale = {
      ...early,
      imageScanFindings: {
        ...early.imageScanFindings,
        imageScanCompletedAt: new Date(PUSHED_AT.getTime() - 1000),
      },
    };
    const none = { ...early, imageScanFindings: { findings: [] } }; // no completion time at all
    mocks['eu-west-1']
      .on(DescribeImagesCommand)
      .resolves(imageFound)
      .on(DescribeImageScanFindingsCommand)
      .resolvesOnce(stale)
      .resolvesOnce(none)
      .resolves(completeScan([basicFinding('CVE-2024-9999', 'CRITICAL')]));

    const result = await runGate(OPTIONS, deps);

    expect(result.exitCode).toBe(1);
    expect(lines.filter((l) => l.includes('but not yet after the push'))).toHaveLength(2);
  });

  test('ENHANCED: a scan that never gets past the push times out (exit 124), saying so', async () => {
    const { mocks, deps } = regionMocks(['eu-west-1']);
    const early = completeScan([]);
    mocks['eu-west-1']
      .on(DescribeImagesCommand)
      .resolves(imageFound)
      .on(DescribeImageScanFindingsCommand)
      .resolves({ ...early, imageScanFindings: { findings: [], imageScanCompletedAt: PUSHED_AT } });

    const result = await runGate({ ...OPTIONS, timeoutSeconds: 15 }, deps);

    expect(result.exitCode).toBe(124);
    expect(result.reason).toContain(
      'has no result after the push (COMPLETE, completed 2023-11-14T21:56:40.000Z, pushed 2023-11-14T21:56:40.000Z)',
    );
  });

  test("BASIC: a COMPLETE scan is the digest's own result (no push-time rule)", async () => {
    const { mocks, deps } = regionMocks(['eu-west-1']);
    mocks['eu-west-1']
      .on(DescribeImagesCommand)
      .resolves(imageFound)
      .on(DescribeImageScanFindingsCommand)
      .resolves({ ...completeScan([]), imageScanFindings: { findings: [] } });

    expect((await runGate({ ...OPTIONS, scanType: 'BASIC' }, deps)).exitCode).toBe(0);
  });

  test('SCAN_ELIGIBILITY_EXPIRED: BLOCKED (exit 1), no current verdict, pointing at the runbook; findings are not read', async () => {
    const { mocks, deps } = regionMocks(['eu-west-1']);
    mocks['eu-west-1']
      .on(DescribeImagesCommand)
      .resolves(imageFound)
      .on(DescribeImageScanFindingsCommand)
      .resolves({
        ...scanStatus(
          'SCAN_ELIGIBILITY_EXPIRED',
          'The configured scan duration has lapsed for this image.',
        ),
        imageScanFindings: { imageScanCompletedAt: SCANNED_AT },
      });

    const result = await runGate(OPTIONS, deps);

    expect(result).toMatchObject({ verdict: 'BLOCKED', exitCode: 1 });
    expect(result.reason).toContain(
      'ended SCAN_ELIGIBILITY_EXPIRED: The configured scan duration has lapsed for this image.',
    );
    expect(result.reason).toContain(
      `no longer rescans this image (last scan ${SCANNED_AT.toISOString()})`,
    );
    expect(result.reason).toContain('docs/runbooks/image-gate-blocked.md#scan_eligibility_expired');
  });
});

describe('image gate: unknown severities', () => {
  test.each(['CRITICAL', 'HIGH', 'MEDIUM', 'LOW'] as const)(
    'UNTRIAGED and unknown strings block at --fail-on %s, with a clear message',
    async (failOn) => {
      const { mocks, deps } = regionMocks(['eu-west-1']);
      mocks['eu-west-1']
        .on(DescribeImagesCommand)
        .resolves(imageFound)
        .on(DescribeImageScanFindingsCommand)
        .resolves(
          completeScan([
            basicFinding('CVE-2024-0100', 'UNTRIAGED' as never),
            basicFinding('CVE-2024-0101', 'SEVERE-ISH' as never),
            basicFinding('CVE-2024-0102', 'INFORMATIONAL'),
          ]),
        );

      const result = await runGate({ ...OPTIONS, failOn }, deps);

      expect(result).toMatchObject({ verdict: 'BLOCKED', exitCode: 1 });
      expect(result.findings.map((f) => f.name).sort()).toEqual(['CVE-2024-0100', 'CVE-2024-0101']);
      expect(result.reason).toContain(
        '2 findings of severity UNTRIAGED, SEVERE-ISH, which the gate does not rank and so blocks at any --fail-on',
      );
    },
  );
});

describe('image gate: replication status', () => {
  test('a FAILED replication (DescribeImageReplicationStatus where the image was pushed) stops the gate at once: exit 3', async () => {
    const { mocks, deps } = regionMocks(['us-east-1', 'eu-west-1']);
    mocks['us-east-1'].on(DescribeImagesCommand).rejects(imageNotFound());
    mocks['eu-west-1'].on(DescribeImageReplicationStatusCommand).resolves({
      replicationStatuses: [
        {
          region: 'us-east-1',
          registryId: '111111111111',
          status: 'FAILED',
          failureCode: 'KMS_KEY_NOT_FOUND',
        },
      ],
    });

    const result = await runGate(
      { ...OPTIONS, regions: ['us-east-1'], scanRegion: 'eu-west-1', timeoutSeconds: 900 },
      deps,
    );

    expect(result).toMatchObject({
      verdict: 'ERROR',
      exitCode: 3,
      reason:
        'replication of hello-web:v1 from eu-west-1 to us-east-1 FAILED: KMS_KEY_NOT_FOUND (see docs/runbooks/image-gate-blocked.md)',
    });
    expect(mocks['us-east-1']).toHaveReceivedCommandTimes(DescribeImagesCommand, 1);
  });

  test('IN_PROGRESS, no record, or an error of that call: printed once each, and DescribeImages stays the judge', async () => {
    const { mocks, deps, lines } = regionMocks(['us-east-1', 'eu-west-1']);
    mocks['us-east-1']
      .on(DescribeImagesCommand)
      .rejectsOnce(imageNotFound())
      .rejectsOnce(imageNotFound())
      .rejectsOnce(imageNotFound())
      .rejectsOnce(imageNotFound())
      .resolves(imageFound);
    const denied = Object.assign(new Error('not authorized'), { name: 'AccessDeniedException' });
    mocks['eu-west-1']
      .on(DescribeImageReplicationStatusCommand)
      .resolvesOnce({ replicationStatuses: [] })
      .resolvesOnce({ replicationStatuses: [{ region: 'us-east-1', status: 'IN_PROGRESS' }] })
      .resolvesOnce({ replicationStatuses: [{ region: 'us-east-1', status: 'IN_PROGRESS' }] })
      .rejects(denied)
      .on(DescribeImagesCommand)
      .resolves(imageFound)
      .on(DescribeImageScanFindingsCommand)
      .resolves(completeScan([]));

    const result = await runGate(
      { ...OPTIONS, regions: ['us-east-1'], scanRegion: 'eu-west-1' },
      deps,
    );

    expect(result.exitCode).toBe(0);
    const notes = lines.filter(
      (l) => l.includes('replication of') || l.includes('DescribeImageReplicationStatus'),
    );
    expect(notes).toEqual([
      expect.stringContaining('none recorded in eu-west-1'),
      '[us-east-1] replication of hello-web:v1 to us-east-1: IN_PROGRESS',
      '[us-east-1] DescribeImageReplicationStatus in eu-west-1: AccessDeniedException: not authorized (going on with DescribeImages)',
    ]);
  });
});

describe('image gate: --timeout bounds the whole command', () => {
  test('a hung call is cut at the deadline even when callTimeoutMs is longer: exit 124 (TIMEOUT), in about --timeout', async () => {
    const sockets: net.Socket[] = [];
    const server = net.createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const endpoint = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
    const client = new ECRClient({
      region: 'eu-west-1',
      endpoint,
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    });
    try {
      const lines: string[] = [];
      const started = Date.now();
      const result = await runGate(
        { ...OPTIONS, timeoutSeconds: 1 },
        {
          ecrClient: () => client,
          now: Date.now,
          sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
          log: (l) => lines.push(l),
          callTimeoutMs: 60_000,
        },
      );

      expect(result).toMatchObject({ verdict: 'TIMEOUT', exitCode: 124 });
      expect(result.reason).toMatch(
        /^DescribeImages for hello-web:v1 in eu-west-1: no answer after 1s \(--timeout 1\)$/,
      );
      expect(Date.now() - started).toBeLessThan(3000);
    } finally {
      client.destroy();
      sockets.forEach((s) => s.destroy());
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
