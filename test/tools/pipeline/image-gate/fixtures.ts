import {
  type DescribeImageScanFindingsCommandOutput,
  ECRClient,
  type ImageScanFinding,
  ImageNotFoundException,
  RepositoryNotFoundException,
  ScanNotFoundException,
  type ScanStatus,
} from '@aws-sdk/client-ecr';
import { type AwsClientStub, mockClient } from 'aws-sdk-client-mock';
import type { GateDeps, GateOptions } from '../../../../tools/pipeline/image-gate/gate';

/** Shared fixtures for the image gate's unit tests: a fake clock, per-region mocked clients. */

export const DIGEST = `sha256:${'ab'.repeat(32)}`;

export const OPTIONS: GateOptions = {
  repository: 'hello-web',
  tag: 'v1',
  regions: ['eu-west-1'],
  failOn: 'CRITICAL',
  timeoutSeconds: 60,
  pollIntervalSeconds: 5,
  scanType: 'ENHANCED',
};

/** Before the fake clock's start: when the image was pushed, and when Inspector then scanned it. */
export const PUSHED_AT = new Date(1_699_999_000_000);
export const SCANNED_AT = new Date(1_699_999_600_000);

export type EcrMock = AwsClientStub<ECRClient>;

/** A clock that only moves when the gate sleeps, so waiting minutes takes no time. */
export function fakeClock(): {
  now: () => number;
  sleep: (ms: number) => Promise<void>;
  slept: number[];
} {
  let t = 1_700_000_000_000;
  const slept: number[] = [];
  return {
    now: () => t,
    sleep: (ms) => {
      slept.push(ms);
      t += ms;
      return Promise.resolve();
    },
    slept,
  };
}

/** One ECRClient per region, each with its own mock, and the gate's deps wired to them. */
export function regionMocks(regions: readonly string[]): {
  mocks: Record<string, EcrMock>;
  deps: GateDeps;
  lines: string[];
  clock: ReturnType<typeof fakeClock>;
} {
  const clients: Record<string, ECRClient> = {};
  const mocks: Record<string, EcrMock> = {};
  for (const region of regions) {
    clients[region] = new ECRClient({
      region,
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    });
    mocks[region] = mockClient(clients[region]);
  }
  const lines: string[] = [];
  const clock = fakeClock();
  const deps: GateDeps = {
    ecrClient: (region) => {
      const client = clients[region];
      if (!client) throw new Error(`test set-up: no client for ${region}`);
      return client;
    },
    sleep: clock.sleep,
    now: clock.now,
    log: (line) => lines.push(line),
  };
  return { mocks, deps, lines, clock };
}

export const imageNotFound = (): ImageNotFoundException =>
  new ImageNotFoundException({
    message: "The image with imageId {imageTag:'v1'} does not exist",
    $metadata: {},
  });
export const repositoryNotFound = (): RepositoryNotFoundException =>
  new RepositoryNotFoundException({
    message: "The repository with name 'hello-web' does not exist",
    $metadata: {},
  });
export const scanNotFound = (): ScanNotFoundException =>
  new ScanNotFoundException({ message: 'Image scan does not exist for the image', $metadata: {} });

export function basicFinding(
  name: string,
  severity: ImageScanFinding['severity'],
  packageName = 'openssl',
  packageVersion = '3.0.1',
): ImageScanFinding {
  return {
    name,
    severity,
    uri: `https://nvd.nist.gov/vuln/detail/${name}`,
    attributes: [
      { key: 'package_version', value: packageVersion },
      { key: 'package_name', value: packageName },
      { key: 'CVSS3_SCORE', value: '9.8' },
    ],
  };
}

export function completeScan(
  findings: ImageScanFinding[],
  nextToken?: string,
): DescribeImageScanFindingsCommandOutput {
  return {
    $metadata: {},
    repositoryName: 'hello-web',
    imageId: { imageDigest: DIGEST },
    imageScanStatus: { status: 'COMPLETE', description: 'The scan was completed successfully.' },
    imageScanFindings: { findings, imageScanCompletedAt: SCANNED_AT },
    nextToken,
  };
}

export function scanStatus(
  status: ScanStatus | (string & {}),
  description?: string,
): DescribeImageScanFindingsCommandOutput {
  return {
    $metadata: {},
    repositoryName: 'hello-web',
    imageId: { imageDigest: DIGEST },
    imageScanStatus: { status: status as ScanStatus, description },
  };
}

export const imageFound = {
  $metadata: {},
  imageDetails: [
    {
      repositoryName: 'hello-web',
      imageDigest: DIGEST,
      imageTags: ['v1'],
      imagePushedAt: PUSHED_AT,
    },
  ],
};
