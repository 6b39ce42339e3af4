import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { STSClient } from '@aws-sdk/client-sts';
import { invocationDir } from '../../common/config';
import { processSignals } from '../../common/control';
import { processOutput } from '../../common/output';
import { runCli } from '../../common/run';
import { driftMain, execKubectl } from './drift';

// `npm run drift [-- --env <stage>]`: docs/runbooks/breakglass.md ("Drift")
const output = processOutput();
void runCli(
  'drift',
  () =>
    driftMain(process.argv.slice(2), {
      clients: {
        s3: (region) => new S3Client({ region }),
        dynamodb: (region) => new DynamoDBClient({ region }),
        sts: (region) => new STSClient({ region }),
        cloudFormation: (region) => new CloudFormationClient({ region }),
      },
      kubectl: execKubectl(),
      output,
      cwd: invocationDir(),
      repoRoot: process.cwd(),
      signals: processSignals,
    }),
  output,
).then((code) => {
  process.exitCode = code;
  setTimeout(() => process.exit(code), 2000).unref();
});
