import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { STSClient } from '@aws-sdk/client-sts';
import { REPO_ROOT, invocationDir } from '../../common/config';
import { processSignals } from '../../common/control';
import { type Output, processOutput } from '../../common/output';
import { runCli } from '../../common/run';
import { driftMain, execKubectl } from './drift';

/** `npx delivery drift [--env <stage>]`: docs/runbooks/breakglass.md ("Drift") */
export function run(argv: readonly string[], output: Output = processOutput()): Promise<number> {
  return runCli(
    'drift',
    () =>
      driftMain(argv, {
        clients: {
          s3: (region) => new S3Client({ region }),
          dynamodb: (region) => new DynamoDBClient({ region }),
          sts: (region) => new STSClient({ region }),
          cloudFormation: (region) => new CloudFormationClient({ region }),
        },
        kubectl: execKubectl(),
        output,
        cwd: invocationDir(),
        repoRoot: REPO_ROOT,
        signals: processSignals,
      }),
    output,
    argv,
  );
}

if (require.main === module)
  void run(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
    setTimeout(() => process.exit(code), 2000).unref();
  });
