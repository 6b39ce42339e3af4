import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  CloudFormationClient,
  CreateStackCommand,
  UpdateStackCommand,
} from '@aws-sdk/client-cloudformation';
import { DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { build } from 'esbuild';
import {
  BREAKGLASS_CHECK_DIR,
  BREAKGLASS_CHECK_TARGETS,
  type BreakglassCheckTargets,
  type DeliveryConfigInput,
  allEnvironments,
  findEnvironment,
  loadConfig,
} from '../../../../lib/config';
import { bootstrapRoleArn } from '../../../../lib/config/bootstrap';
import { toolBuildOptions } from '../../../../tools/pipeline/bundle';
import { type Fault, type FaultProxy, startFaultProxy } from '../../../support/fault-proxy';
import { motoAvailable, motoEnv } from '../../../support/moto';
import { REPO_ROOT } from '../../../support/paths';
import { type SessionStandIn, sessionStandIn } from '../../../support/session-stand-in';
import { synthesize } from '../../../support/synth';
import { runNode } from '../image-gate/run-node';
import {
  CONFIG,
  ENV,
  Harness,
  MANIFESTS,
  REGION,
  type Seeded,
} from '../../operator/breakglass/harness';

/**
 * issue 26: the next deploy of an environment changed by breakglass is blocked before it starts,
 * naming the breakglass record, until git carries the change or it is reconciled. The bundled
 * check (what the pipeline runs) on the targets the synth writes, against moto_server: real
 * breakglass runs write the records, moto holds the stack's outputs, S3 and the table.
 *
 * What moto does not decide, test/support/session-stand-in.ts does, in front of it, as AWS
 * documents it: which roles exist to be assumed (the CDK bootstrap lookup role exists from
 * `cdk bootstrap` on; a role an environment's stack creates exists only once that stack is
 * deployed with it), what a session may do (the role's ReadOnlyAccess,
 * https://docs.aws.amazon.com/aws-managed-policy/latest/reference/ReadOnlyAccess.html, as the CDK
 * bootstrap template gives it to the lookup role, narrowed by the session policy: "The resulting
 * session's permissions are the intersection of the role's identity-based policy and the session
 * policies", https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_temp_control-access_assumerole.html),
 * and S3's 403 for a missing object when the session may not list the bucket
 * (https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadObject.html). CodePipeline's
 * GetPipelineState, which moto does not emulate, is answered in its documented wire format
 * (https://docs.aws.amazon.com/codepipeline/latest/APIReference/API_GetPipelineState.html) with
 * every stage status, to show that no status of the pipeline can make an unread environment pass
 * (the check no longer asks it: ADR 0035).
 */
const haveMoto = motoAvailable();
const describeMoto = haveMoto ? describe : describe.skip;
const CREDS = { accessKeyId: 'testing', secretAccessKey: 'testing' };
const NEW_TAG = 'app-2222222222222222';

describeMoto(
  'the deploy is blocked by an outstanding breakglass change (bundled check, moto)',
  () => {
    const h = new Harness();
    let bundle: string;
    let bundleDir: string;
    let proxy: FaultProxy | undefined;
    let iam: SessionStandIn;
    /** What the synth writes for the check (the cloud assembly's breakglass-check/targets.json). */
    let synthesized: BreakglassCheckTargets;
    /** Objects the test deleted from moto (the stand-in answers their HEAD as S3 would). */
    const deleted = new Set<string>();
    const config = loadConfig({ contextValue: CONFIG, cwd: REPO_ROOT });
    const env = findEnvironment(config, ENV);
    /** An environment of a later wave: the harness never deploys its stack. */
    const NEW_ENV = allEnvironments(config).find((e) => e.stageName !== ENV)!;

    beforeAll(async () => {
      await h.start();
      bundleDir = fs.mkdtempSync(path.join(os.tmpdir(), 'breakglass-check-bundle-'));
      const options = toolBuildOptions(REPO_ROOT, bundleDir, 'breakglass-check');
      await build(options);
      bundle = options.outfile as string;
      const s = synthesize({
        config: JSON.parse(
          fs.readFileSync(path.join(REPO_ROOT, CONFIG), 'utf8'),
        ) as DeliveryConfigInput,
      });
      synthesized = JSON.parse(
        fs.readFileSync(path.join(s.outdir, BREAKGLASS_CHECK_TARGETS), 'utf8'),
      ) as BreakglassCheckTargets;
      fs.rmSync(s.outdir, { recursive: true, force: true });
    }, 120000);
    afterAll(async () => {
      await proxy?.stop();
      await h.stop();
      fs.rmSync(bundleDir, { recursive: true, force: true });
    });
    beforeEach(() => {
      iam = sessionStandIn();
      // `cdk bootstrap` creates the lookup role of every environment's account and region
      // (lib/config/bootstrap.ts); nothing else exists to be assumed.
      for (const e of allEnvironments(config)) iam.roles.add(bootstrapRoleArn('lookup', e, 'aws'));
    });

    /** The environment's stack, as far as the check cares: its outputs. */
    async function deployedStack(s: Pick<Seeded, 'bucket' | 'key' | 'table'>): Promise<void> {
      const cfn = new CloudFormationClient({
        region: REGION,
        endpoint: h.endpoint,
        credentials: CREDS,
      });
      const input = {
        StackName: env.stackName,
        TemplateBody: JSON.stringify({
          Resources: { Placeholder: { Type: 'AWS::CloudFormation::WaitConditionHandle' } },
          Outputs: {
            ManifestBucketName: { Value: s.bucket },
            ManifestObjectKey: { Value: s.key },
            AuditTableName: { Value: s.table },
          },
        }),
      };
      // one stack per environment: each test points it at its own bucket and table
      try {
        await cfn.send(new CreateStackCommand(input));
      } catch (e) {
        if ((e as Error).name !== 'AlreadyExistsException') throw e;
        await cfn.send(new UpdateStackCommand(input));
      }
    }

    /**
     * The cloud assembly's part the check reads: the synthesized target of `stage`, and the
     * manifests this commit renders for it (`rendered`).
     */
    function assembly(rendered: string, stage = ENV, kmsTableUpgrade = false): string {
      const dir = fs.mkdtempSync(path.join(bundleDir, 'assembly-'));
      fs.mkdirSync(path.join(dir, BREAKGLASS_CHECK_DIR));
      const synthesizedTarget = synthesized.environments.find((e) => e.stageName === stage)!;
      const target = kmsTableUpgrade
        ? { ...synthesizedTarget, kmsTableUpgrade: true }
        : synthesizedTarget;
      fs.writeFileSync(path.join(dir, BREAKGLASS_CHECK_DIR, target.manifestFile), rendered);
      const targets: BreakglassCheckTargets = { ...synthesized, environments: [target] };
      fs.writeFileSync(path.join(dir, BREAKGLASS_CHECK_TARGETS), JSON.stringify(targets));
      return dir;
    }

    /** GetPipelineState: every deploy stage's latest execution has `status` (none: never ran). */
    const pipelineState = (status?: string): Fault => ({
      kind: 'answer',
      status: 200,
      contentType: 'application/x-amz-json-1.1',
      body: JSON.stringify({
        pipelineName: config.pipeline.name,
        stageStates: allEnvironments(config).map((e) => ({
          stageName: e.pipelineStageName,
          ...(status ? { latestExecution: { pipelineExecutionId: 'e-1', status } } : {}),
        })),
      }),
    });

    /**
     * The bundled check, every AWS call through the proxy: `fault` first, then the IAM stand-in,
     * then moto. The pipeline has released every stage unless `stageStatus` says otherwise.
     */
    async function check(
      dir: string,
      opts: {
        fault?: (c: { operation?: string; method: string; text: string }) => Fault | undefined;
        stageStatus?: string;
        stage?: string;
      } = {},
    ) {
      await proxy?.stop();
      proxy = await startFaultProxy(h.endpoint, (c) => {
        const f = opts.fault?.(c);
        if (f) return f;
        if (c.operation === 'GetPipelineState')
          return pipelineState('stageStatus' in opts ? opts.stageStatus : 'Succeeded');
        return iam.rule(c, (bucket, key) => !deleted.has(`${bucket}/${key}`));
      });
      return runNode(bundle, ['--environments', opts.stage ?? ENV], {
        cwd: dir,
        env: motoEnv(proxy.endpoint, config.pipeline.region),
      });
    }

    const breakglass = async (s: Seeded) => {
      const { run } = h.inProcess(s);
      expect(
        await run([
          '--env',
          ENV,
          '--image',
          NEW_TAG,
          '--reason',
          'INC-26: hot fix',
          '--yes',
          ...s.flags,
        ]),
      ).toBe(0);
      return (await h.auditItems(s))[0].runId?.S as string;
    };

    test('nothing changed by hand: PASS (exit 0)', async () => {
      const s = await h.seed();
      await deployedStack(s);
      const res = await check(assembly(MANIFESTS));
      expect(res.code).toBe(0);
      expect(res.stdout).toContain(`${ENV}: no outstanding breakglass change (0 records read)`);
      expect(res.stdout).toContain('breakglass-check: PASS');
    });

    test('a breakglass change this commit does not carry: BLOCKED (exit 1), naming the record, the field and how to go on; --reconcile lets the deploy go ahead', async () => {
      const s = await h.seed();
      await deployedStack(s);
      const runId = await breakglass(s);
      const dir = assembly(MANIFESTS);

      const blocked = await check(dir);
      expect(blocked.code).toBe(1);
      expect(blocked.stderr).toContain(`BLOCKED ${ENV} run ${runId} (SUCCEEDED, began `);
      expect(blocked.stderr).toMatch(
        new RegExp(
          `Deployment [^ ]+/[^:]+: .*spec\\.template\\.spec\\.containers\\[web\\]\\.image is "[^"]+:${NEW_TAG}" there, "[^"]+:app-1111111111111111" in this commit`,
        ),
      );
      expect(blocked.stderr).toContain(
        `npx delivery breakglass --env ${ENV} --reconcile ${runId} --reason "<why>"`,
      );
      expect(blocked.stdout).toContain('breakglass-check: BLOCKED');

      const { run } = h.inProcess(s);
      expect(
        await run(['--env', ENV, '--reconcile', runId, '--reason', 'INC-26: accepted', ...s.flags]),
      ).toBe(0);
      const after = await check(dir);
      expect(after.code).toBe(0);
      expect(after.stdout).toContain(`${ENV}: no outstanding breakglass change`);
    });

    test('the commit being deployed carries the change: PASS', async () => {
      const s = await h.seed();
      await deployedStack(s);
      const runId = await breakglass(s);
      // this commit renders what breakglass applied (the pipeline's render has no prune label either way)
      const res = await check(assembly((await h.current(s)).text));
      expect(res.code).toBe(0);
      expect(res.stdout).toContain(`${ENV}: the commit being deployed carries ${ENV} run ${runId}`);
    });

    test('a later pipeline deploy settled it: S3 holds a version the pipeline wrote, PASS', async () => {
      const s = await h.seed();
      await deployedStack(s);
      await breakglass(s);
      // what the pipeline's BreakglassStore does on a deploy: a new version, no breakglass metadata
      await h
        .clients()
        .s3(REGION)
        .send(
          new PutObjectCommand({
            Bucket: s.bucket,
            Key: s.key,
            Body: MANIFESTS,
          }),
        );
      const res = await check(assembly(MANIFESTS));
      expect(res.code).toBe(0);
    });

    test('an environment deployed by a version without the reader role, never changed by hand: PASS (the upgrade)', async () => {
      // Its stack exists, with the audit table and the manifest, but no role of this check's own:
      // the check reads through the bootstrap lookup role, which bootstrap created.
      const s = await h.seed();
      await deployedStack(s);
      const res = await check(assembly(MANIFESTS));
      expect(res.stderr).toBe('');
      expect(res.code).toBe(0);
      expect(res.stdout).toContain(`${ENV}: no outstanding breakglass change (0 records read)`);
      // every session was narrowed by a session policy, and the stand-in let each call through it
      expect(iam.sessions.length).toBeGreaterThan(0);
      for (const session of iam.sessions) {
        expect(session.roleArn).toBe(bootstrapRoleArn('lookup', env, 'aws'));
        expect(session.policy).toBeDefined();
      }
    });

    test('a wave that already released gains an environment whose stack does not exist yet: PASS, saying why', async () => {
      // The stage (the wave) has succeeded before; the new region's stack was never created.
      const res = await check(assembly(MANIFESTS, NEW_ENV.stageName), {
        stage: NEW_ENV.stageName,
        stageStatus: 'Succeeded',
      });
      expect(res.code).toBe(0);
      expect(res.stdout).toContain(
        `${NEW_ENV.stageName}: stack ${NEW_ENV.stackName} does not exist in ${NEW_ENV.account}/${NEW_ENV.region}`,
      );
      expect(res.stdout).toContain('breakglass-check: PASS');
    });

    test.each([['Failed'], ['Stopped'], ['Cancelled'], ['InProgress'], ['Succeeded'], [undefined]])(
      'the environment cannot be read (the lookup role does not trust the pipeline account) while the stage is %s: could not check (exit 3), never PASS',
      async (status) => {
        const s = await h.seed();
        await deployedStack(s);
        iam.roles.clear();
        const res = await check(assembly(MANIFESTS), { stageStatus: status });
        expect(res.code).toBe(3);
        expect(res.stderr).toContain(
          `could not check ${ENV}: cannot assume the bootstrap lookup role ${bootstrapRoleArn('lookup', env, 'aws')}`,
        );
        expect(res.stderr).toContain('--trust');
        expect(res.stdout).toContain('breakglass-check: COULD NOT CHECK');
      },
    );

    test('the stack exists but its records cannot be read: could not check (exit 3), never PASS', async () => {
      const s = await h.seed();
      await deployedStack({ ...s, table: 'no-such-table' });
      const res = await check(assembly(MANIFESTS), { stageStatus: 'Failed' });
      expect(res.code).toBe(3);
      expect(res.stderr).toContain(
        `could not check ${ENV}: reading the breakglass records of ${ENV}`,
      );
      expect(res.stdout).toContain('breakglass-check: COULD NOT CHECK');
    });

    /** DynamoDB refusing the check's Query with AccessDeniedException and `message`. */
    const queryRefused =
      (message: string) =>
      (c: { operation?: string }): Fault | undefined =>
        c.operation === 'Query'
          ? {
              kind: 'answer',
              status: 400,
              contentType: 'application/x-amz-json-1.0',
              body: JSON.stringify({
                __type: 'com.amazonaws.dynamodb.v20120810#AccessDeniedException',
                message,
              }),
            }
          : undefined;
    /** A Query whose table key the caller may not use: the wire text as aws/aws-cdk#10010 reports it (moto does not evaluate KMS). */
    const kmsRefusal = queryRefused(
      'KMS key access denied error: com.amazonaws.services.kms.model.AWSKMSException: User is not authorized to perform: kms:Decrypt with an explicit deny in an identity-based policy (Service: AWSKMS; Status Code: 400; Error Code: AccessDeniedException)',
    );

    test('an audit table made before ADR 0035 is on the account aws/dynamodb key, which the lookup role may not use: could not check, saying so and the way past it', async () => {
      // The lookup role denies kms:Decrypt (the CDK bootstrap template), and DynamoDB decrypts a
      // KMS-keyed table's key for each caller, so AWS refuses the Query.
      // https://docs.aws.amazon.com/kms/latest/developerguide/services-dynamodb.html#dynamodb-authz
      const s = await h.seed({ tableKey: 'KMS' });
      await deployedStack(s);
      const res = await check(assembly(MANIFESTS), { fault: kmsRefusal });
      expect(res.code).toBe(3);
      expect(res.stderr).toContain(
        `could not check ${ENV}: the audit table ${s.table} is encrypted with a KMS key`,
      );
      expect(res.stderr).toContain('denies kms:Decrypt');
      // AWS's own answer is kept
      expect(res.stderr).toContain('KMS key access denied error');
      expect(res.stderr).toContain(`npx delivery drift --env ${ENV}`);
      expect(res.stderr).toContain('"breakglassCheck": { "kmsTableUpgrade": true }');
      expect(res.stdout).toContain('breakglass-check: COULD NOT CHECK');
    });

    test('with breakglassCheck.kmsTableUpgrade on that environment, the deploy that moves the table goes ahead, saying loudly that nothing was read', async () => {
      const s = await h.seed({ tableKey: 'KMS' });
      await deployedStack(s);
      const res = await check(assembly(MANIFESTS, ENV, true), { fault: kmsRefusal });
      expect(res.code).toBe(0);
      expect(res.stdout).toContain(`${ENV}: PASS WITHOUT READING THE BREAKGLASS RECORDS`);
      expect(res.stdout).toContain('Remove the setting once it has deployed');
    });

    test('the setting never passes a refusal that is not the table key, nor a table it can read', async () => {
      const s = await h.seed();
      await deployedStack(s);
      // a table on DynamoDB's own key, refused for another reason: the check looks at the key,
      // finds none, and says what AWS said; still could not check
      const refused = await check(assembly(MANIFESTS, ENV, true), {
        fault: queryRefused('User is not authorized to perform: dynamodb:Query'),
      });
      expect(refused.code).toBe(3);
      expect(proxy?.calls.some((c) => c.operation === 'DescribeTable')).toBe(true);
      expect(refused.stderr).toContain(
        'access denied (User is not authorized to perform: dynamodb:Query)',
      );
      expect(refused.stderr).not.toContain('encrypted with a KMS key');
      expect(refused.stdout).not.toContain('PASS WITHOUT READING');
      // a readable table with an outstanding change: still BLOCKED, and the setting is said to be stale
      await breakglass(s);
      const blocked = await check(assembly(MANIFESTS, ENV, true));
      expect(blocked.code).toBe(1);
      expect(blocked.stderr + blocked.stdout).toContain(
        'breakglassCheck.kmsTableUpgrade is set but no longer needed',
      );
    });

    /** DescribeStacks answered in its documented query-protocol XML with `status` and no outputs. */
    const stackIn = (status: string): Fault => ({
      kind: 'answer',
      status: 200,
      contentType: 'text/xml',
      body: `<DescribeStacksResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><DescribeStacksResult><Stacks><member><StackName>${env.stackName}</StackName><StackId>arn:aws:cloudformation:${REGION}:${env.account}:stack/${env.stackName}/0f8e3b10-0000-4000-8000-000000000000</StackId><CreationTime>2026-12-01T00:00:00Z</CreationTime><StackStatus>${status}</StackStatus></member></Stacks></DescribeStacksResult><ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata></DescribeStacksResponse>`,
    });

    test.each([
      ['REVIEW_IN_PROGRESS', 'created for a change set that was never executed'],
      ['ROLLBACK_COMPLETE', 'its first creation failed and was rolled back'],
    ])(
      'a stack in %s has none of its resources, so nothing can be outstanding: PASS, saying why',
      async (status, why) => {
        // https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/view-stack-events.html#cfn-console-view-stack-data-resources-status-codes
        const res = await check(assembly(MANIFESTS), {
          fault: (c) => (c.text.includes('Action=DescribeStacks') ? stackIn(status) : undefined),
        });
        expect(res.stderr).toBe('');
        expect(res.code).toBe(0);
        expect(res.stdout).toContain(`${ENV}: stack ${env.stackName} is ${status}: ${why}`);
        if (status === 'ROLLBACK_COMPLETE')
          // CREATE_UPDATE "will fail deployment if the stack is in a failed state"
          // (https://docs.aws.amazon.com/cdk/api/v2/docs/aws-cdk-lib.aws_codepipeline_actions.CloudFormationCreateUpdateStackAction.html)
          expect(res.stdout).toContain(
            `aws cloudformation delete-stack --stack-name ${env.stackName} --region ${REGION}`,
          );
      },
    );

    test('the stored manifest is gone: S3 says 404 because the session may list the bucket (without it, 403), and the check goes on', async () => {
      const s = await h.seed();
      await deployedStack(s);
      await h
        .clients()
        .s3(REGION)
        .send(new DeleteObjectCommand({ Bucket: s.bucket, Key: s.key }));
      deleted.add(`${s.bucket}/${s.key}`);
      const res = await check(assembly(MANIFESTS));
      expect(res.stderr).toBe('');
      expect(res.code).toBe(0);
      expect(res.stdout).toContain(`${ENV}: no outstanding breakglass change (0 records read)`);
    });

    test('S3 refuses to show the stored manifest (403): could not check, saying what a 403 from HeadObject can mean', async () => {
      const s = await h.seed();
      await deployedStack(s);
      // e.g. a bucket policy or an SCP that denies the read: S3's HEAD answer has no body
      const res = await check(assembly(MANIFESTS), {
        fault: (c) =>
          c.method === 'HEAD'
            ? { kind: 'answer', status: 403, contentType: 'application/xml', body: '' }
            : undefined,
      });
      expect(res.code).toBe(3);
      expect(res.stderr).toContain(
        `could not check ${ENV}: S3 answered 403 Forbidden to HeadObject of s3://${s.bucket}/${s.key}`,
      );
      expect(res.stderr).toContain('s3:ListBucket');
    });
  },
);
