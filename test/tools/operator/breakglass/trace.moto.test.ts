import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { CreateTopicCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { loadConfig, notificationTopicName } from '../../../../lib/config';
import type { RunKubectl } from '../../../../tools/operator/breakglass/kubectl';
import { type FaultProxy, startFaultProxy } from '../../../support/fault-proxy';
import { motoAvailable } from '../../../support/moto';
import { REPO_ROOT } from '../../../support/paths';
import { ENV, Harness, MANIFESTS, REGION, type Seeded, waitForFile } from './harness';

/**
 * issue 26, "Breakglass can leave a change with no trace": a run SIGKILLed after kubectl applied,
 * a hold whose answer is lost, an identical re-write while breakglass applies, Ctrl-C during the
 * API server's dry run, the notification. Against moto_server (behind the fault proxy where a
 * fault is injected), the stand-in kubectl and the real CLI; what is asserted is what the
 * operator relies on: the audit table, S3's versions, the hold, the cluster (the stub's log).
 */
const haveMoto = motoAvailable();
const describeMoto = haveMoto ? describe : describe.skip;
const NEW_TAG = 'app-2222222222222222';
const CREDS = { accessKeyId: 'testing', secretAccessKey: 'testing' };
/** Like the breakglass fixture, with the pipeline in moto's one account, so its topic can be made there. */
const ONE_ACCOUNT_CONFIG = 'test/tools/operator/breakglass/fixtures/config-one-account.json';

const sha256 = (text: string | Buffer) => createHash('sha256').update(text).digest('hex');

describeMoto('breakglass leaves a trace (moto)', () => {
  const h = new Harness();
  beforeAll(() => h.start());
  afterAll(() => h.stop());

  const image = (s: Seeded, reason = 'INC-26: test') => [
    '--env',
    ENV,
    '--image',
    NEW_TAG,
    '--reason',
    reason,
    '--yes',
    ...s.flags,
  ];

  test('SIGKILL after kubectl applied: a PENDING record says what was applied over which version; the next run releases its own hold, shows it and records how it was resolved', async () => {
    const s = await h.seed();
    let pid = 0;
    const killed = h.cli(s, image(s, 'INC-26: killed mid-apply'), {
      kubectlSleepSeconds: 3,
      detached: true,
      onStart: (p) => (pid = p),
    });
    // kubectl apply is running (the stand-in has the manifest): kill -9 breakglass, all of it
    await waitForFile(`${s.log}.started`, 60000);
    process.kill(-pid, 'SIGKILL');
    expect((await killed).code).toBeNull();
    const applied = fs.readFileSync(`${s.log}.applied`, 'utf8');

    // the intent was recorded before kubectl ran; S3 was not touched; the hold is still there
    const items = await h.auditItems(s);
    expect(items).toHaveLength(1);
    expect(items[0]).toMatchObject({
      result: { S: 'PENDING' },
      s3VersionBefore: { S: s.versionBefore },
      manifestSha256: { S: sha256(applied) },
      reason: { S: 'INC-26: killed mid-apply' },
    });
    expect(gunzipSync(Buffer.from(items[0].manifestGzip?.B as Uint8Array)).toString('utf8')).toBe(
      applied,
    );
    expect(await h.versions(s)).toHaveLength(1);
    const dead = items[0].runId?.S as string;
    expect(Number((await h.holdItem(s))?.expiresAtMs?.N)).toBeGreaterThan(Date.now());

    // the same operator runs again on the same machine
    const { run, output } = h.inProcess(s);
    expect(await run(image(s, 'INC-26: again'))).toBe(0);
    expect(output.stderr).toContain(
      `breakglass: released your own hold on ${ENV} left by run ${dead}`,
    );
    expect(output.stderr).toContain(
      `WARNING: a breakglass run on ${ENV} died after it wrote its intent and before it recorded an outcome: the cluster may run its change.`,
    );
    expect(output.stderr).toContain(`  run:       ${dead} (began `);
    expect(output.stderr).toContain(`  manifest:  sha256 ${sha256(applied)}`);
    expect(output.stderr).toContain(
      `  S3:        it started from version ${s.versionBefore}; S3 holds version ${s.versionBefore} now (its upload never happened)`,
    );
    const after = await h.auditItems(s);
    expect(after).toHaveLength(2);
    const resolved = after.find((i) => i.runId?.S === dead);
    const mine = after.find((i) => i.runId?.S !== dead);
    expect(mine).toMatchObject({ result: { S: 'SUCCEEDED' } });
    expect(resolved).toMatchObject({
      result: { S: 'ABANDONED' },
      resolvedBy: { S: mine?.runId?.S },
      resolution: {
        S: expect.stringContaining(
          `the run died after writing its intent (no outcome recorded); found by run ${mine?.runId?.S}`,
        ) as unknown,
      },
      manifestSha256: { S: sha256(applied) },
    });
    expect(await h.versions(s)).toHaveLength(2);
  });

  describe('a hold whose answer is lost', () => {
    let proxy: FaultProxy | undefined;
    afterEach(async () => {
      await proxy?.stop();
      proxy = undefined;
    });

    /** DynamoDB stores the hold, but its answer comes after the CLI's 20 s call limit. */
    async function ghostHold(s: Seeded) {
      proxy = await startFaultProxy(h.endpoint, (c) => {
        const item = (c.json as { Item?: { environment?: { S?: string } } } | undefined)?.Item;
        return c.operation === 'PutItem' && item?.environment?.S === `${ENV}#hold`
          ? { kind: 'lose-answer', ms: 40000 }
          : undefined;
      });
      const first = await h.cli(s, image(s, 'INC-26: ghost'), {
        env: { AWS_ENDPOINT_URL_DYNAMODB: proxy.endpoint },
      });
      const token = /it is yours \(token ([0-9a-f-]{36})\)/.exec(first.stderr)?.[1];
      return { first, token };
    }

    test("the run says it may hold the environment and how to release it; the same operator's retry recognises its own hold and releases it", async () => {
      const s = await h.seed();
      const { first, token } = await ghostHold(s);
      expect(first.code).toBe(124);
      expect(first.stderr).toContain(
        `DynamoDB did not answer, so this run cannot tell whether it holds ${ENV}: nothing was changed.`,
      );
      expect(first.stderr).toContain(
        'your next breakglass run on this machine recognises and releases it',
      );
      expect(first.stderr).toContain(
        `npx delivery breakglass --env ${ENV} --release-hold ${token}`,
      );
      expect(h.kubectlCalls(s)).toEqual([]);
      // the write was stored: the hold blocks, and carries the token the message printed
      expect((await h.holdItem(s))?.holdToken?.S).toBe(token);

      const { run, output } = h.inProcess(s);
      expect(await run(image(s, 'INC-26: retry'))).toBe(0);
      expect(output.stderr).toContain(`breakglass: released your own hold on ${ENV} left by run `);
      expect((await h.auditItems(s)).map((i) => i.result?.S)).toEqual(['SUCCEEDED']);
    });

    test('from another machine, --release-hold <token> gives it back', async () => {
      const s = await h.seed();
      const { token } = await ghostHold(s);
      // another machine: its own state directory knows nothing of the token
      const other = fs.mkdtempSync(path.join(h.stateDir, 'other-'));
      const { run, output } = h.inProcess(s, { deps: { stateDir: other } });
      expect(await run(image(s, 'INC-26: elsewhere'))).toBe(1);
      expect(output.stderr).toContain(`another breakglass run holds ${ENV}`);
      expect(output.stderr).toContain('--release-hold <token>');

      const release = h.inProcess(s, { deps: { stateDir: other } });
      expect(await release.run(['--env', ENV, '--release-hold', token as string, ...s.flags])).toBe(
        0,
      );
      expect(release.output.stdout).toContain(`released the hold on ${ENV} of run `);
      expect(Number((await h.holdItem(s))?.expiresAtMs?.N)).toBe(0);
      const again = h.inProcess(s, { deps: { stateDir: other } });
      expect(await again.run(image(s, 'INC-26: elsewhere, again'))).toBe(0);
    });
  });

  test('the pipeline re-writes identical content while kubectl applies: the record names the version the upload really replaced', async () => {
    const s = await h.seed();
    let pipelineVersion: string | undefined;
    const kubectl: RunKubectl = async () => {
      // same bytes, so the same ETag: If-Match still passes, but over a new version
      pipelineVersion = (
        await h
          .clients()
          .s3(REGION)
          .send(new PutObjectCommand({ Bucket: s.bucket, Key: s.key, Body: MANIFESTS }))
      ).VersionId;
      return { exitCode: 0 };
    };
    const { run, output } = h.inProcess(s, { deps: { kubectl } });
    expect(await run(image(s))).toBe(0);
    expect(pipelineVersion).toBeDefined();
    expect(pipelineVersion).not.toBe(s.versionBefore);
    const item = (await h.auditItems(s))[0];
    expect(item).toMatchObject({
      result: { S: 'SUCCEEDED' },
      s3VersionBefore: { S: s.versionBefore },
      s3VersionReplaced: { S: pipelineVersion },
    });
    expect(output.stderr).toContain(
      `the upload replaced S3 version ${pipelineVersion}, not version ${s.versionBefore} that this run read`,
    );
  });

  test('Ctrl-C during kubectl apply --dry-run=server stops at once: exit 130, the dry run stopped, nothing changed', async () => {
    const s = await h.seed();
    let pid = 0;
    const done = h.cli(s, image(s), { serverDryRunSleepSeconds: 60, onStart: (p) => (pid = p) });
    await waitForFile(`${s.log}.dry-run-started`, 60000);
    const interrupted = Date.now();
    process.kill(pid, 'SIGINT');
    const res = await done;
    // at once: not after the API server's (here 60 s) answer, nor the 900 s default --timeout
    expect(Date.now() - interrupted).toBeLessThan(15000);
    expect(res.code).toBe(130);
    expect(res.stderr).toContain(
      'interrupted (SIGINT) while asking the API server (kubectl apply --dry-run=server); nothing applied, nothing uploaded, no audit record',
    );
    expect(res.stderr).not.toMatch(/\n\s+at /);
    // the dry run itself was stopped, and nothing else ran
    await new Promise((r) => setTimeout(r, 4000));
    expect(fs.existsSync(`${s.log}.dry-run-finished`)).toBe(false);
    expect(h.kubectlCalls(s)).toEqual([]);
    expect(await h.holdItem(s)).toBeUndefined();
    expect(await h.auditItems(s)).toHaveLength(0);
    expect(await h.versions(s)).toHaveLength(1);
  });

  test("a breakglass change is published to the pipeline's notification topic, naming the record and how to reconcile it", async () => {
    const s = await h.seed();
    const endpoint = h.endpoint;
    const cfg = loadConfig({ contextValue: ONE_ACCOUNT_CONFIG, cwd: REPO_ROOT });
    const sns = new SNSClient({ region: cfg.pipeline.region, endpoint, credentials: CREDS });
    const sqs = new SQSClient({ region: cfg.pipeline.region, endpoint, credentials: CREDS });
    const topic = await sns.send(
      new CreateTopicCommand({ Name: notificationTopicName(cfg.pipeline.name) }),
    );
    const queue = await sqs.send(new CreateQueueCommand({ QueueName: `notes-${Date.now()}` }));
    const arn = (
      await sqs.send(
        new GetQueueAttributesCommand({ QueueUrl: queue.QueueUrl, AttributeNames: ['QueueArn'] }),
      )
    ).Attributes?.QueueArn;
    await sns.send(
      new SubscribeCommand({ TopicArn: topic.TopicArn, Protocol: 'sqs', Endpoint: arn }),
    );

    const { run, output } = h.inProcess(s, { config: ONE_ACCOUNT_CONFIG });
    expect(await run(image(s, 'INC-26: notify'))).toBe(0);
    expect(output.stdout).toContain(`Notified ${topic.TopicArn}.`);
    const runId = (await h.auditItems(s))[0].runId?.S as string;
    const got = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queue.QueueUrl, MaxNumberOfMessages: 10 }),
    );
    const bodies = (got.Messages ?? []).map(
      (m) => JSON.parse(m.Body ?? '{}') as { Subject?: string; Message?: string },
    );
    expect(bodies).toHaveLength(1);
    expect(bodies[0].Subject).toBe(`Breakglass on ${ENV}: SUCCEEDED`);
    expect(bodies[0].Message).toContain(`${ENV} run ${runId} (SUCCEEDED`);
    expect(bodies[0].Message).toContain(
      `npx delivery breakglass --env ${ENV} --reconcile ${runId} --reason`,
    );
  });

  test('--reconcile <run id> adds an audited RECONCILED record; an unknown id is refused', async () => {
    const s = await h.seed();
    const first = h.inProcess(s);
    expect(await first.run(image(s))).toBe(0);
    const runId = (await h.auditItems(s))[0].runId?.S as string;

    const bad = h.inProcess(s);
    expect(
      await bad.run(['--env', ENV, '--reconcile', 'nope', '--reason', 'INC-26', ...s.flags]),
    ).toBe(1);
    expect(bad.output.stderr).toContain(`no breakglass change with run id nope on ${ENV}`);

    const ok = h.inProcess(s);
    expect(
      await ok.run([
        '--env',
        ENV,
        '--reconcile',
        runId,
        '--reason',
        'INC-26: commit abc123 carries it',
        ...s.flags,
      ]),
    ).toBe(0);
    expect(ok.output.stdout).toContain(`Reconciled: ${ENV} run ${runId} (SUCCEEDED`);
    const items = await h.auditItems(s);
    expect(items.find((i) => i.result?.S === 'RECONCILED')).toMatchObject({
      action: { S: 'reconcile' },
      reconciles: { S: runId },
      reason: { S: 'INC-26: commit abc123 carries it' },
      who: { S: expect.stringMatching(/^arn:aws:/) as unknown },
    });
  });

  // an AWS error before anything changed is "could not check" (exit 3), never a verdict (ADR 0028)
  test('DynamoDB refuses the intent: nothing applied, no hold left behind, exit 3', async () => {
    const s = await h.seed();
    const failing = h.clients();
    const ddb: DynamoDBClient = failing.dynamodb(REGION);
    ddb.middlewareStack.add(
      (next) => async (args) => {
        const input = (args as { input: { Item?: Record<string, { S?: string }> } }).input;
        if (input.Item?.result?.S === 'PENDING')
          throw Object.assign(new Error('Service unavailable'), {
            name: 'InternalServerError',
            $metadata: { httpStatusCode: 500 },
          });
        return next(args);
      },
      { step: 'initialize', name: 'failIntent' },
    );
    const { run, output } = h.inProcess(s, {
      deps: { clients: { ...failing, dynamodb: () => ddb } },
    });
    expect(await run(image(s))).toBe(3);
    expect(output.stderr).toContain('the intent could not be recorded, so nothing was applied');
    expect(h.kubectlCalls(s)).toEqual([]);
    expect(Number((await h.holdItem(s))?.expiresAtMs?.N)).toBe(0);
  });
});
