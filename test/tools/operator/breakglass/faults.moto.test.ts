import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { type AttributeValue, DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { RunKubectl } from '../../../../tools/operator/breakglass/kubectl';
import type { StopSignal } from '../../../../tools/common/control';
import { motoAvailable } from '../../../support/moto';
import { ENV, Harness, IMAGE_REPO, MANIFESTS, REGION, type Seeded, waitForFile } from './harness';

/**
 * issue 13, "Breakglass: nothing lost, ever": each case injects one fault (a concurrent run, a
 * writer between read and write, a hanging kubectl or AWS endpoint, an interrupt, a hostile or
 * huge manifest, an unversioned bucket, a failing DynamoDB) against moto_server and a stand-in
 * kubectl, and checks what the operator relies on: what reached the cluster (the stub's log),
 * S3's versions, and the audit table.
 */
const haveMoto = motoAvailable();
const describeMoto = haveMoto ? describe : describe.skip;
const NEW_TAG = 'app-2222222222222222';

describeMoto('breakglass under faults (moto)', () => {
  const h = new Harness();
  beforeAll(() => h.start());
  afterAll(() => h.stop());

  const image = (s: Seeded, reason = 'INC-9: test') => [
    '--env',
    ENV,
    '--image',
    NEW_TAG,
    '--reason',
    reason,
    '--yes',
    ...s.flags,
  ];

  describe('concurrent runs', () => {
    test('two runs on one environment: one applies, the other stops with a clear message and changes nothing', async () => {
      const s = await h.seed();
      let applies = 0;
      let releaseFirst: () => void = () => undefined;
      const firstMayFinish = new Promise<void>((r) => (releaseFirst = r));
      // The first apply waits until the other run has ended, so the two runs overlap for sure.
      const kubectl: RunKubectl = async (args, output) => {
        if (args.includes('apply')) applies += 1;
        output.outRaw('deployment.apps/hello-web configured\n');
        await Promise.race([firstMayFinish, new Promise((r) => setTimeout(r, 10000))]);
        return { exitCode: 0 };
      };
      const a = h.inProcess(s, { deps: { kubectl } });
      const b = h.inProcess(s, { deps: { kubectl } });
      const runA = a.run(image(s, 'INC-9: run A'));
      const runB = b.run([
        '--env',
        ENV,
        '--image',
        'app-3333333333333333',
        '--reason',
        'INC-9: run B',
        '--yes',
        ...s.flags,
      ]);
      const first = await Promise.race([
        runA.then((c) => ({ who: 'A', c })),
        runB.then((c) => ({ who: 'B', c })),
      ]);
      releaseFirst();
      const codes = [await runA, await runB];

      expect(first.c).toBe(1);
      expect(codes.sort()).toEqual([0, 1]);
      const loser = first.who === 'A' ? a.output : b.output;
      expect(loser.stderr).toMatch(
        /another breakglass run holds preprod-eu-west-1: .* since .* \(reason: INC-9: run [AB]\), until .* at the latest\. Nothing was changed/,
      );
      expect(applies).toBe(1);
      expect(await h.versions(s)).toHaveLength(2);
      const items = await h.auditItems(s);
      expect(items).toHaveLength(1);
      expect(items[0]).toMatchObject({
        result: { S: 'SUCCEEDED' },
        s3VersionBefore: { S: s.versionBefore },
      });
      // The hold was given back: a later run gets it.
      expect(Number((await h.holdItem(s))?.expiresAtMs?.N)).toBe(0);
    });

    test("the manifest changes between the diff and the apply: nothing applied, the other writer's version kept", async () => {
      const s = await h.seed();
      const other = MANIFESTS.replace('replicas: 2\n', 'replicas: 5\n');
      const confirm = async () => {
        // Someone else (another operator, a pipeline deploy) writes while this operator reads the diff.
        await h
          .clients()
          .s3(REGION)
          .send(new PutObjectCommand({ Bucket: s.bucket, Key: s.key, Body: other }));
        return true;
      };
      const { run, output } = h.inProcess(s, { deps: { confirm, interactive: true } });
      expect(await run(['--env', ENV, '--image', NEW_TAG, '--reason', 'INC-10', ...s.flags])).toBe(
        1,
      );
      expect(output.stderr).toContain(
        `s3://${s.bucket}/${s.key} changed since this run read it (version ${s.versionBefore}, now `,
      );
      expect(output.stderr).toContain('Nothing was applied; run again');
      expect(h.kubectlCalls(s)).toEqual([]);
      expect((await h.current(s)).text).toBe(other);
      expect(await h.auditItems(s)).toHaveLength(0);
    });

    test('S3 is written while kubectl applies (a pipeline deploy): the upload does not overwrite it; APPLIED_NOT_STORED says why', async () => {
      const s = await h.seed();
      const pipelines = MANIFESTS.replace('replicas: 2\n', 'replicas: 4\n');
      const kubectl: RunKubectl = async () => {
        await h
          .clients()
          .s3(REGION)
          .send(new PutObjectCommand({ Bucket: s.bucket, Key: s.key, Body: pipelines }));
        return { exitCode: 0 };
      };
      const { run, output } = h.inProcess(s, { deps: { kubectl } });
      expect(await run(image(s))).toBe(1);
      expect((await h.current(s)).text).toBe(pipelines);
      expect(output.stderr).toContain('!!! THE CLUSTER NOW DIFFERS FROM S3 !!!');
      const items = await h.auditItems(s);
      expect(items).toHaveLength(1);
      expect(items[0]).toMatchObject({
        result: { S: 'APPLIED_NOT_STORED' },
        error: { S: expect.stringContaining('was written by someone else') as unknown },
      });
      const copy = /aws s3 cp (\S+) s3:\/\//.exec(output.stderr)?.[1] as string;
      expect(fs.readFileSync(copy, 'utf8')).toContain(`${IMAGE_REPO}:${NEW_TAG}`);
      fs.rmSync(path.dirname(copy), { recursive: true });
    });
  });

  describe('time limits', () => {
    test('a kubectl that hangs is stopped within --timeout: exit 124, audit INCOMPLETE, S3 untouched, hold released', async () => {
      const s = await h.seed();
      const { run, output } = h.inProcess(s, { kubectlSleepSeconds: 600 });
      const started = Date.now();
      expect(await run([...image(s), '--timeout', '12'])).toBe(124);
      expect(Date.now() - started).toBeLessThan(25000);
      expect(output.stderr).toContain('timed out: kubectl did not finish within');
      expect(output.stderr).toContain(
        'the audit record says INCOMPLETE. The cluster may be partly changed',
      );
      expect(await h.versions(s)).toHaveLength(1);
      expect((await h.auditItems(s))[0]).toMatchObject({ result: { S: 'INCOMPLETE' } });
      expect(Number((await h.holdItem(s))?.expiresAtMs?.N)).toBe(0);
    });

    test('an AWS endpoint that never answers: each call is bounded, exit 124 naming the call, nothing changed', async () => {
      const s = await h.seed();
      // Accepts connections and never answers: a hung S3 endpoint.
      const sockets: net.Socket[] = [];
      const blackHole = net.createServer((socket) => void sockets.push(socket));
      await new Promise<void>((r) => blackHole.listen(0, '127.0.0.1', () => r()));
      const port = (blackHole.address() as net.AddressInfo).port;
      const hungS3 = () =>
        new S3Client({
          region: REGION,
          endpoint: `http://127.0.0.1:${port}`,
          credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
          forcePathStyle: true,
        });
      const { run, output } = h.inProcess(s, {
        deps: { clients: { ...h.clients(), s3: hungS3 }, callTimeoutMs: 1500 },
      });
      const started = Date.now();
      const code = await run(image(s));
      for (const socket of sockets) socket.destroy();
      blackHole.close();
      expect(code).toBe(124);
      expect(Date.now() - started).toBeLessThan(15000);
      expect(output.stderr).toMatch(/breakglass: error: .*bucket .* did not answer within 1\.5 s/);
      expect(h.kubectlCalls(s)).toEqual([]);
      expect(await h.auditItems(s)).toHaveLength(0);
    });

    test('--timeout bounds the whole run, the unanswered prompt included: exit 124, nothing applied', async () => {
      const s = await h.seed();
      const confirm = (_q: string, signal?: AbortSignal) =>
        new Promise<boolean>((_r, reject) =>
          signal?.addEventListener('abort', () => reject(new Error('withdrawn'))),
        );
      const { run, output } = h.inProcess(s, { deps: { confirm, interactive: true } });
      const started = Date.now();
      expect(
        await run([
          '--env',
          ENV,
          '--image',
          NEW_TAG,
          '--reason',
          'INC-11',
          '--timeout',
          '10',
          ...s.flags,
        ]),
      ).toBe(124);
      expect(Date.now() - started).toBeLessThan(20000);
      expect(output.stderr).toContain(
        "timed out: the command's --timeout of 10 s ran out while waiting for your answer",
      );
      expect(h.kubectlCalls(s)).toEqual([]);
      expect(await h.holdItem(s)).toBeUndefined();
    });
  });

  describe('interrupts', () => {
    /** A signal source the test fires by hand, as Ctrl-C would. */
    function handSignals() {
      let fire: (s: StopSignal) => void = () => undefined;
      return {
        signals: (h2: (s: StopSignal) => void) => ((fire = h2), () => undefined),
        fire: (s: StopSignal) => fire(s),
      };
    }

    test('Ctrl-C while kubectl applies: the apply is let finish, stored and recorded, then exit 130', async () => {
      const s = await h.seed();
      const sig = handSignals();
      const kubectl: RunKubectl = async () => {
        sig.fire('SIGINT');
        await new Promise((r) => setTimeout(r, 300));
        return { exitCode: 0 };
      };
      const { run, output } = h.inProcess(s, {
        deps: { kubectl, signals: sig.signals },
      });
      expect(await run(image(s))).toBe(130);
      expect(output.stderr).toContain(
        'SIGINT received while kubectl applied the change and its record is written: finishing that first',
      );
      expect(await h.versions(s)).toHaveLength(2);
      const items = await h.auditItems(s);
      expect(items).toHaveLength(1);
      expect(items[0]).toMatchObject({
        result: { S: 'SUCCEEDED' },
        interruptedBy: { S: 'SIGINT' },
      });
    });

    test('SIGTERM at the prompt: exit 143, nothing applied, no hold left behind', async () => {
      const s = await h.seed();
      const sig = handSignals();
      const confirm = (_q: string, signal?: AbortSignal) =>
        new Promise<boolean>((_r, reject) => {
          signal?.addEventListener('abort', () => reject(new Error('withdrawn')));
          setTimeout(() => sig.fire('SIGTERM'), 50);
        });
      const { run } = h.inProcess(s, {
        deps: { confirm, interactive: true, signals: sig.signals },
      });
      expect(await run(['--env', ENV, '--image', NEW_TAG, '--reason', 'INC-12', ...s.flags])).toBe(
        143,
      );
      expect(h.kubectlCalls(s)).toEqual([]);
      expect(await h.auditItems(s)).toHaveLength(0);
      expect(await h.holdItem(s)).toBeUndefined();
    });

    test('the real CLI, SIGINT while kubectl applies: kubectl finishes, the change is stored and recorded, exit 130', async () => {
      const s = await h.seed();
      let pid = 0;
      const done = h.cli(s, image(s), { kubectlSleepSeconds: 2, onStart: (p) => (pid = p) });
      await waitForFile(`${s.log}.started`, 60000);
      process.kill(pid, 'SIGINT');
      const res = await done;
      expect(res.code).toBe(130);
      expect(res.stderr).not.toMatch(/\n\s+at /);
      expect(res.stdout).toContain('deployment.apps/hello-web configured');
      expect(await h.versions(s)).toHaveLength(2);
      expect((await h.auditItems(s))[0]).toMatchObject({
        result: { S: 'SUCCEEDED' },
        interruptedBy: { S: 'SIGINT' },
      });
    });
  });

  describe('what may be applied', () => {
    const write = (text: string) => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bg-scope-'));
      const file = path.join(dir, 'm.yaml');
      fs.writeFileSync(file, text);
      return file;
    };
    const ANONYMOUS_ADMIN = `---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata:\n  name: anonymous-admin\nroleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: ClusterRole\n  name: cluster-admin\nsubjects:\n  - apiGroup: rbac.authorization.k8s.io\n    kind: User\n    name: system:anonymous\n`;

    test.each([
      [
        'a ClusterRoleBinding granting cluster-admin to system:anonymous',
        MANIFESTS + ANONYMOUS_ADMIN,
        'ClusterRoleBinding/anonymous-admin (rbac.authorization.k8s.io/v1 ClusterRoleBinding is not a kind the workload has)',
      ],
      [
        'a Deployment in kube-system',
        MANIFESTS.replace(
          'kind: Deployment\nmetadata:\n  name: hello-web\n  namespace: hello-web\n',
          'kind: Deployment\nmetadata:\n  name: hello-web\n  namespace: kube-system\n',
        ),
        'namespace kube-system',
      ],
      [
        'a ConfigMap in the workload namespace',
        `${MANIFESTS}---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  namespace: hello-web\n`,
        'ConfigMap/x (v1 ConfigMap is not a kind the workload has)',
      ],
    ])('%s is refused before anything is touched (exit 2)', async (_what, text, message) => {
      const s = await h.seed();
      const file = write(text);
      const { run, output } = h.inProcess(s);
      expect(
        await run(['--env', ENV, '--manifest', file, '--reason', 'INC-13', '--yes', ...s.flags]),
      ).toBe(2);
      expect(output.stderr).toContain(message);
      expect(output.stderr).toContain('pass --allow-outside-workload');
      expect(h.kubectlCalls(s)).toEqual([]);
      expect(await h.versions(s)).toHaveLength(1);
    });

    test('--allow-outside-workload applies it and the audit record names what was outside', async () => {
      const s = await h.seed();
      const file = write(MANIFESTS + ANONYMOUS_ADMIN);
      const { run } = h.inProcess(s);
      expect(
        await run([
          '--env',
          ENV,
          '--manifest',
          file,
          '--reason',
          'INC-14',
          '--yes',
          '--allow-outside-workload',
          ...s.flags,
        ]),
      ).toBe(0);
      expect((await h.auditItems(s))[0]).toMatchObject({
        result: { S: 'SUCCEEDED' },
        outsideWorkload: {
          S: expect.stringContaining('ClusterRoleBinding/anonymous-admin') as unknown,
        },
      });
    });
  });

  describe('unversioned bucket', () => {
    test('refused: the only copy is not overwritten, nothing applied', async () => {
      const s = await h.seed({ versioned: false });
      const { run, output } = h.inProcess(s);
      expect(await run(image(s))).toBe(1);
      expect(output.stderr).toContain(`refusing: versioning of bucket ${s.bucket} is Disabled`);
      expect(output.stderr).toContain('--accept-unversioned-bucket');
      expect(h.kubectlCalls(s)).toEqual([]);
      expect((await h.current(s)).text).toBe(MANIFESTS);
    });

    test('--accept-unversioned-bucket goes ahead, and the audit record says the bucket was not versioned', async () => {
      const s = await h.seed({ versioned: false });
      const { run } = h.inProcess(s);
      expect(await run([...image(s), '--accept-unversioned-bucket'])).toBe(0);
      expect((await h.auditItems(s))[0]).toMatchObject({
        result: { S: 'SUCCEEDED' },
        bucketVersioning: { S: 'Disabled' },
      });
    });
  });

  describe('input size', () => {
    test('a 6 MB --manifest is refused at once (exit 2), before any AWS call', async () => {
      const s = await h.seed();
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bg-big-'));
      const file = path.join(dir, 'big.yaml');
      let big = '';
      while (big.length < 6 * 1024 * 1024) big += `${MANIFESTS}---\n`;
      fs.writeFileSync(file, big);
      const { run, output } = h.inProcess(s);
      const started = Date.now();
      expect(
        await run(['--env', ENV, '--manifest', file, '--reason', 'INC-15', '--yes', ...s.flags]),
      ).toBe(2);
      expect(Date.now() - started).toBeLessThan(5000);
      expect(output.stderr).toMatch(
        /--manifest .*big\.yaml: \d+ bytes, more than the 262144 it may have/,
      );
      fs.rmSync(dir, { recursive: true });
    });

    test('/dev/zero as --manifest is refused at once (exit 2)', async () => {
      const s = await h.seed();
      const { run, output } = h.inProcess(s);
      expect(
        await run([
          '--env',
          ENV,
          '--manifest',
          '/dev/zero',
          '--reason',
          'INC-16',
          '--yes',
          ...s.flags,
        ]),
      ).toBe(2);
      expect(output.stderr).toContain('--manifest /dev/zero: not a regular file');
    });

    test('a 6 MB object at the manifest key is refused without being read whole (exit 1)', async () => {
      const s = await h.seed({ body: 'x'.repeat(6 * 1024 * 1024) });
      const { run, output } = h.inProcess(s);
      expect(await run(image(s))).toBe(1);
      expect(output.stderr).toContain(
        `s3://${s.bucket}/${s.key} is 6291456 bytes, more than the 262144 breakglass accepts`,
      );
      expect(h.kubectlCalls(s)).toEqual([]);
    });
  });

  describe('DynamoDB fails to take the audit record', () => {
    test('the record is saved to a file whose path is printed, ready for put-item; S3 holds the change', async () => {
      const s = await h.seed();
      const spool = fs.mkdtempSync(path.join(os.tmpdir(), 'bg-spool-'));
      const failing = h.clients();
      const ddb: DynamoDBClient = failing.dynamodb(REGION);
      // The hold and the intent (PENDING) go through; the outcome of the attempt fails.
      ddb.middlewareStack.add(
        (next) => async (args) => {
          const input = (args as { input: { Item?: Record<string, { S?: string }> } }).input;
          if (input.Item?.environment?.S === ENV && input.Item?.result?.S !== 'PENDING')
            throw Object.assign(new Error('Service unavailable'), {
              name: 'InternalServerError',
              $metadata: { httpStatusCode: 500 },
            });
          return next(args);
        },
        { step: 'initialize', name: 'failAuditPut' },
      );
      const { run, output } = h.inProcess(s, {
        deps: { clients: { ...failing, dynamodb: () => ddb }, auditSpoolDir: spool },
      });
      expect(await run(image(s))).toBe(1);
      const file = /It is saved in (\S+)\. Store it/.exec(output.stderr)?.[1] as string;
      expect(file.startsWith(spool)).toBe(true);
      expect(output.stderr).toContain(`--item file://${file}`);
      const item = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<
        string,
        { S?: string; N?: string; B?: string }
      >;
      expect(item).toMatchObject({
        environment: { S: ENV },
        result: { S: 'SUCCEEDED' },
        imageAfter: { S: `${IMAGE_REPO}:${NEW_TAG}` },
      });
      // The saved file is exactly what `aws dynamodb put-item --item file://` takes (binary as base64).
      const asCli = Object.fromEntries(
        Object.entries(item).map(([k, v]) => [
          k,
          v.B !== undefined ? { B: Buffer.from(v.B, 'base64') } : v,
        ]),
      ) as Record<string, AttributeValue>;
      // DynamoDB has the intent (PENDING) until then; the file completes it
      expect((await h.auditItems(s)).map((i) => i.result?.S)).toEqual(['PENDING']);
      await h
        .clients()
        .dynamodb(REGION)
        .send(new PutItemCommand({ TableName: s.table, Item: asCli }));
      expect((await h.auditItems(s)).map((i) => i.result?.S)).toEqual(['SUCCEEDED']);
      expect(await h.versions(s)).toHaveLength(2);
      fs.rmSync(spool, { recursive: true });
    });
  });

  describe('--reason with escape sequences and line breaks', () => {
    test('shown neutralised on the terminal, stored exactly as given', async () => {
      const s = await h.seed();
      const reason = 'INC-17\u001b[2J\u001b[31m fake\r\nbreakglass: all good\u009b';
      const { run, output } = h.inProcess(s);
      expect(await run(image(s, reason))).toBe(0);
      // eslint-disable-next-line no-control-regex -- the test asserts that no terminal escape (ESC, CSI) reaches the output
      expect(output.all).not.toMatch(/[\u001b\r\u009b]/);
      expect(output.stdout).toContain(
        'reason: INC-17\\x1b[2J\\x1b[31m fake\\r\\nbreakglass: all good\\x9b',
      );
      expect((await h.auditItems(s))[0].reason).toEqual({ S: reason });
    });

    test('a reason longer than 1024 characters is refused (exit 2)', async () => {
      const s = await h.seed();
      const { run, output } = h.inProcess(s);
      expect(await run(image(s, 'x'.repeat(1025)))).toBe(2);
      expect(output.stderr).toContain('--reason is 1025 characters long; at most 1024');
    });
  });
});
