import {
  CreateRepositoryCommand,
  DescribeImagesCommand,
  ECRClient,
  PutImageCommand,
} from '@aws-sdk/client-ecr';
import { main } from '../../../../tools/pipeline/image-backfill/cli';
import { type MotoServer, motoAvailable, startMoto } from '../../../support/moto';
import { MOTO_ACCOUNT, imageManifest } from '../../../support/ecr';

/**
 * The backfill against moto_server (ECR's BatchGetImage, PutImage and DescribeImages on the wire):
 * a region added after the image was pushed gets the same manifest, so the same digest. moto does
 * not check that the replica holds the layers (ECR does: see backfill.test.ts for that path).
 */
const available = motoAvailable();
const describeWithMoto = available ? describe : describe.skip;
const ACCOUNT = MOTO_ACCOUNT;
let moto: MotoServer | undefined;
const clients = new Map<string, ECRClient>();

function ecr(region: string): ECRClient {
  let client = clients.get(region);
  if (!client) {
    client = new ECRClient({
      region,
      endpoint: moto?.endpoint,
      credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
    });
    clients.set(region, client);
  }
  return client;
}

const MANIFEST = imageManifest();

async function backfill(args: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main([...args, '--registry-id', ACCOUNT, '--poll-interval', '1'], {
    out: (l) => out.push(l),
    err: (l) => err.push(l),
    deps: { ecrClient: ecr },
  });
  return { code, out, err };
}

async function digestIn(region: string, tag: string): Promise<string | undefined> {
  const out = await ecr(region).send(
    new DescribeImagesCommand({ repositoryName: 'hello-web', imageIds: [{ imageTag: tag }] }),
  );
  return out.imageDetails?.[0]?.imageDigest;
}

beforeAll(async () => {
  if (!available) return;
  moto = await startMoto();
  for (const region of ['eu-west-1', 'us-east-1', 'ap-southeast-2']) {
    await ecr(region).send(
      new CreateRepositoryCommand({ repositoryName: 'hello-web', imageTagMutability: 'IMMUTABLE' }),
    );
  }
  // Pushed in the pipeline region; replicated to us-east-1 only: ap-southeast-2 was added later.
  await ecr('eu-west-1').send(
    new PutImageCommand({ repositoryName: 'hello-web', imageTag: 'v1', imageManifest: MANIFEST }),
  );
  await ecr('us-east-1').send(
    new PutImageCommand({ repositoryName: 'hello-web', imageTag: 'v1', imageManifest: MANIFEST }),
  );
}, 60000);

afterAll(async () => {
  for (const c of clients.values()) c.destroy();
  await moto?.stop();
});

describeWithMoto('image backfill against moto_server', () => {
  test('a region added later gets the current tag with the same digest; a region that has it is left alone; exit 0', async () => {
    expect(await digestIn('ap-southeast-2', 'v1').catch(() => undefined)).toBeUndefined();

    const run = await backfill([
      '--repository',
      'hello-web',
      '--tag',
      'v1',
      '--source-region',
      'eu-west-1',
      '--regions',
      'eu-west-1,us-east-1,ap-southeast-2',
    ]);

    expect(run.err).toEqual([]);
    expect(run.code).toBe(0);
    const source = await digestIn('eu-west-1', 'v1');
    expect(source).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(await digestIn('ap-southeast-2', 'v1')).toBe(source);
    expect(run.out).toContain('[us-east-1] hello-web:v1 is already here');
    expect(run.out).toContain(`[ap-southeast-2] copied hello-web:v1 (same manifest, ${source})`);
    expect(run.out[run.out.length - 1]).toBe(
      'image-backfill: OK hello-web:v1 is in eu-west-1, us-east-1, ap-southeast-2 (us-east-1: present; ap-southeast-2: copied)',
    );

    // Run again (a re-run of the pipeline): nothing to do.
    const again = await backfill([
      '--repository',
      'hello-web',
      '--tag',
      'v1',
      '--source-region',
      'eu-west-1',
      '--regions',
      'us-east-1,ap-southeast-2',
    ]);
    expect(again.code).toBe(0);
    expect(again.out[again.out.length - 1]).toMatch(
      /\(us-east-1: present; ap-southeast-2: present\)$/,
    );
  });

  test('a region without the replica repository: exit 3, pointing at the ImageReplicas stage, nothing created', async () => {
    const run = await backfill([
      '--repository',
      'hello-web',
      '--tag',
      'v1',
      '--source-region',
      'eu-west-1',
      '--regions',
      'eu-central-1',
    ]);

    expect(run.code).toBe(3);
    expect(run.err).toEqual([
      'image-backfill: ERROR eu-central-1: no repository hello-web in eu-central-1: the ImageReplicas stage creates it; deploy it first',
    ]);
  });

  test('a tag that was never pushed: exit 3, before touching any region', async () => {
    const run = await backfill([
      '--repository',
      'hello-web',
      '--tag',
      'never',
      '--source-region',
      'eu-west-1',
      '--regions',
      'ap-southeast-2',
    ]);

    expect(run.code).toBe(3);
    expect(run.err[0]).toMatch(
      /^image-backfill: ERROR eu-west-1: hello-web:never not found where it is pushed \(.+\): did the image build run\?$/,
    );
    expect(await digestIn('ap-southeast-2', 'never').catch(() => undefined)).toBeUndefined();
  });
});
