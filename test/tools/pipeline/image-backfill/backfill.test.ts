import {
  BatchGetImageCommand,
  DescribeImagesCommand,
  DescribeReplicationBackfillResultsCommand,
  ECRClient,
  ImageNotFoundException,
  LayersNotFoundException,
  PutImageCommand,
  ReplicationBackfillInProgressException,
  StartReplicationBackfillCommand,
} from '@aws-sdk/client-ecr';
import { type AwsClientStub, mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import {
  type BackfillOptions,
  runBackfill,
} from '../../../../tools/pipeline/image-backfill/backfill';
import { fakeClock } from '../image-gate/fixtures';

/**
 * What moto_server does not emulate: ECR refuses PutImage when the replica lacks the layers
 * (LayersNotFoundException: https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_PutImage.html),
 * and then the replication backfill (StartReplicationBackfill / DescribeReplicationBackfillResults,
 * https://docs.aws.amazon.com/AmazonECR/latest/userguide/replication-backfill.html) copies the image.
 */
const DIGEST = `sha256:${'ab'.repeat(32)}`;
const OPTIONS: BackfillOptions = {
  repository: 'hello-web',
  tag: 'v1',
  sourceRegion: 'eu-west-1',
  regions: ['ap-southeast-2'],
  registryId: '111111111111',
  timeoutSeconds: 300,
  pollIntervalSeconds: 10,
};

function setUp(): {
  source: AwsClientStub<ECRClient>;
  replica: AwsClientStub<ECRClient>;
  run: (o?: Partial<BackfillOptions>) => ReturnType<typeof runBackfill>;
  lines: string[];
} {
  const clients: Record<string, ECRClient> = {};
  for (const r of ['eu-west-1', 'ap-southeast-2'])
    clients[r] = new ECRClient({
      region: r,
      credentials: { accessKeyId: 't', secretAccessKey: 't' },
    });
  const source = mockClient(clients['eu-west-1']);
  const replica = mockClient(clients['ap-southeast-2']);
  source.on(BatchGetImageCommand).resolves({
    images: [
      {
        imageId: { imageDigest: DIGEST, imageTag: 'v1' },
        imageManifest: '{"schemaVersion":2}',
        imageManifestMediaType: 'application/vnd.oci.image.manifest.v1+json',
      },
    ],
  });
  const lines: string[] = [];
  const clock = fakeClock();
  return {
    source,
    replica,
    lines,
    run: (o = {}) =>
      runBackfill(
        { ...OPTIONS, ...o },
        {
          ecrClient: (r) => clients[r],
          sleep: clock.sleep,
          now: clock.now,
          log: (l) => lines.push(l),
        },
      ),
  };
}

const missing = () => new ImageNotFoundException({ message: 'not found', $metadata: {} });
const noLayers = () =>
  new LayersNotFoundException({
    message: 'The specified layers could not be found',
    $metadata: {},
  });
const found = (digest = DIGEST) => ({ imageDetails: [{ imageDigest: digest }] });

test('layers missing in the replica: ECR replication backfill to that region, then the tag arrives; exit 0', async () => {
  const { source, replica, run, lines } = setUp();
  replica
    .on(DescribeImagesCommand)
    .rejectsOnce(missing())
    .rejectsOnce(missing())
    .resolves(found())
    .on(PutImageCommand)
    .rejects(noLayers());
  source
    .on(StartReplicationBackfillCommand)
    .resolves({ replicationBackfillId: 'rb-1', status: 'PREPARING' })
    .on(DescribeReplicationBackfillResultsCommand)
    .resolves({ status: 'IN_PROGRESS' });

  const result = await run();

  expect(result).toMatchObject({ verdict: 'OK', exitCode: 0 });
  expect(result.regions).toEqual([
    { region: 'ap-southeast-2', verdict: 'OK', detail: 'backfilled' },
  ]);
  // the same manifest first, verified by digest; then the backfill, from the source registry to this region
  expect(replica).toHaveReceivedCommandWith(PutImageCommand, {
    imageTag: 'v1',
    imageDigest: DIGEST,
    imageManifest: '{"schemaVersion":2}',
    imageManifestMediaType: 'application/vnd.oci.image.manifest.v1+json',
  });
  expect(source).toHaveReceivedCommandWith(StartReplicationBackfillCommand, {
    registryId: '111111111111',
    destination: { region: 'ap-southeast-2', registryId: '111111111111' },
  });
  expect(lines).toContain('[ap-southeast-2] waiting for hello-web:v1 (backfill IN_PROGRESS, 0s)');
});

test('a backfill to that region already running: waits for it instead of failing', async () => {
  const { source, replica, run, lines } = setUp();
  replica
    .on(DescribeImagesCommand)
    .rejectsOnce(missing())
    .rejectsOnce(missing())
    .resolves(found())
    .on(PutImageCommand)
    .rejects(noLayers());
  source
    .on(StartReplicationBackfillCommand)
    .rejects(new ReplicationBackfillInProgressException({ message: 'in progress', $metadata: {} }));

  expect((await run()).exitCode).toBe(0);
  expect(lines).toContain(
    '[ap-southeast-2] a replication backfill to this region is already running: waiting for it',
  );
});

test.each(['FAILED', 'STOPPED'])(
  'a backfill that ends %s: exit 3 with its failure code',
  async (status) => {
    const { source, replica, run } = setUp();
    replica.on(DescribeImagesCommand).rejects(missing()).on(PutImageCommand).rejects(noLayers());
    source
      .on(StartReplicationBackfillCommand)
      .resolves({ replicationBackfillId: 'rb-2' })
      .on(DescribeReplicationBackfillResultsCommand)
      .resolves({ status: status as 'FAILED', failureCode: 'KMS_ACCESS_DENIED' });

    const result = await run();

    expect(result).toMatchObject({
      verdict: 'ERROR',
      exitCode: 3,
      reason: `ap-southeast-2: replication backfill rb-2 to ap-southeast-2 ended ${status}: KMS_ACCESS_DENIED`,
    });
  },
);

test('a backfill COMPLETE without the tag (the replication rule does not cover it): exit 3, saying so', async () => {
  const { source, replica, run } = setUp();
  replica.on(DescribeImagesCommand).rejects(missing()).on(PutImageCommand).rejects(noLayers());
  source
    .on(StartReplicationBackfillCommand)
    .resolves({ replicationBackfillId: 'rb-3' })
    .on(DescribeReplicationBackfillResultsCommand)
    .resolves({ status: 'COMPLETE' });

  expect((await run()).reason).toContain(
    "is COMPLETE but hello-web:v1 is not there: does the registry's replication rule for ap-southeast-2 match hello-web?",
  );
});

test('a tag that never arrives: exit 124 (TIMEOUT) after --timeout, polling within it', async () => {
  const { source, replica, run } = setUp();
  replica.on(DescribeImagesCommand).rejects(missing()).on(PutImageCommand).rejects(noLayers());
  source
    .on(StartReplicationBackfillCommand)
    .resolves({ replicationBackfillId: 'rb-4' })
    .on(DescribeReplicationBackfillResultsCommand)
    .resolves({ status: 'IN_PROGRESS' });

  const result = await run({ timeoutSeconds: 60 });

  expect(result).toMatchObject({ verdict: 'TIMEOUT', exitCode: 124 });
  expect(result.reason).toBe(
    'ap-southeast-2: hello-web:v1 did not arrive within --timeout 60s (replication backfill IN_PROGRESS)',
  );
  expect(replica.commandCalls(DescribeImagesCommand).length).toBe(7); // 0, 10, ..., 50 s and the first check
});

test('the tag with another digest in the replica: exit 3, never overwritten', async () => {
  const { replica, run } = setUp();
  replica.on(DescribeImagesCommand).resolves(found(`sha256:${'cd'.repeat(32)}`));

  const result = await run();

  expect(result.exitCode).toBe(3);
  expect(result.reason).toContain('an immutable tag with two contents');
  expect(replica).not.toHaveReceivedCommand(PutImageCommand);
});
