import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  CloudFormationClient,
  CreateStackCommand,
  UpdateStackCommand,
} from '@aws-sdk/client-cloudformation';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { build } from 'esbuild';
import {
  BREAKGLASS_CHECK_DIR,
  BREAKGLASS_CHECK_TARGETS,
  type BreakglassCheckTargets,
  findEnvironment,
  loadConfig,
} from '../../../../lib/config';
import { toolBuildOptions } from '../../../../tools/pipeline/bundle';
import { type Fault, type FaultProxy, startFaultProxy } from '../../../support/fault-proxy';
import { motoAvailable, motoEnv } from '../../../support/moto';
import { REPO_ROOT } from '../../../support/paths';
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
 * check (what the pipeline runs) against moto_server: real breakglass runs write the records,
 * moto holds the stack's outputs, S3 and the table. CodePipeline's GetPipelineState, which moto
 * does not emulate, and an AssumeRole that IAM refuses are answered by the fault proxy in the
 * services' documented wire formats:
 * https://docs.aws.amazon.com/codepipeline/latest/APIReference/API_GetPipelineState.html
 * https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html (Errors; CommonErrors: AccessDenied, 403)
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
    const config = loadConfig({ contextValue: CONFIG, cwd: REPO_ROOT });
    const env = findEnvironment(config, ENV);

    beforeAll(async () => {
      await h.start();
      bundleDir = fs.mkdtempSync(path.join(os.tmpdir(), 'breakglass-check-bundle-'));
      const options = toolBuildOptions(REPO_ROOT, bundleDir, 'breakglass-check');
      await build(options);
      bundle = options.outfile as string;
    }, 60000);
    afterAll(async () => {
      await proxy?.stop();
      await h.stop();
      fs.rmSync(bundleDir, { recursive: true, force: true });
    });

    /** The environment's stack, as far as the check cares: its outputs. */
    async function deployedStack(s: Seeded): Promise<void> {
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

    /** The cloud assembly's part the check reads: this commit renders `rendered` for the environment. */
    function assembly(rendered: string): string {
      const dir = fs.mkdtempSync(path.join(bundleDir, 'assembly-'));
      fs.mkdirSync(path.join(dir, BREAKGLASS_CHECK_DIR));
      fs.writeFileSync(path.join(dir, BREAKGLASS_CHECK_DIR, `${ENV}.yaml`), rendered);
      const targets: BreakglassCheckTargets = {
        pipelineName: config.pipeline.name,
        pipelineRegion: config.pipeline.region,
        environments: [
          {
            stageName: ENV,
            account: env.account,
            region: env.region,
            stackName: env.stackName,
            roleArn: `arn:aws:iam::${env.account}:role/reader-of-${ENV}`,
            pipelineStageName: env.pipelineStageName,
            manifestFile: `${ENV}.yaml`,
          },
        ],
      };
      fs.writeFileSync(path.join(dir, BREAKGLASS_CHECK_TARGETS), JSON.stringify(targets));
      return dir;
    }

    const pipelineState = (status?: string): Fault => ({
      kind: 'answer',
      status: 200,
      contentType: 'application/x-amz-json-1.1',
      body: JSON.stringify({
        pipelineName: config.pipeline.name,
        stageStates: [
          {
            stageName: env.pipelineStageName,
            ...(status ? { latestExecution: { pipelineExecutionId: 'e-1', status } } : {}),
          },
        ],
      }),
    });
    const accessDenied: Fault = {
      kind: 'answer',
      status: 403,
      contentType: 'text/xml',
      body: `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>User: arn:aws:sts::${config.pipeline.account}:assumed-role/check/x is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::${env.account}:role/reader-of-${ENV}</Message></Error><RequestId>r-1</RequestId></ErrorResponse>`,
    };

    /** The bundled check, every AWS call through the proxy (which forwards to moto unless `fault` answers). */
    async function check(
      dir: string,
      fault: (c: { operation?: string; text: string }) => Fault | undefined = () => undefined,
    ) {
      await proxy?.stop();
      proxy = await startFaultProxy(h.endpoint, (c) =>
        c.operation === 'GetPipelineState' ? (fault(c) ?? pipelineState('Succeeded')) : fault(c),
      );
      return runNode(bundle, ['--environments', ENV], {
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

    test('the reader role cannot be assumed before the first deployment: PASS, saying why', async () => {
      const dir = assembly(MANIFESTS);
      const res = await check(dir, (c) =>
        c.text.includes('Action=AssumeRole')
          ? accessDenied
          : c.operation === 'GetPipelineState'
            ? pipelineState(undefined)
            : undefined,
      );
      expect(res.code).toBe(0);
      expect(res.stdout).toContain(
        `${ENV}: not deployed yet as far as this pipeline knows (stage ${env.pipelineStageName}: never ran;`,
      );
    });

    test('the reader role cannot be assumed although the stage has deployed: could not check (exit 3), never PASS', async () => {
      const res = await check(assembly(MANIFESTS), (c) =>
        c.text.includes('Action=AssumeRole') ? accessDenied : undefined,
      );
      expect(res.code).toBe(3);
      expect(res.stderr).toContain(`could not check ${ENV}: assuming arn:aws:iam::`);
      expect(res.stderr).toContain('access denied');
      expect(res.stdout).toContain('breakglass-check: COULD NOT CHECK');
    });
  },
);
