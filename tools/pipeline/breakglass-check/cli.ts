import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { STSClient } from '@aws-sdk/client-sts';
import { BREAKGLASS_CHECK_TARGETS } from '../../../lib/config/breakglass-check-targets';
import { parseFlags } from '../../common/args';
import { helpText, printJson, progressOutput } from '../../common/command';
import { RunControl, parseTimeoutSeconds, processSignals } from '../../common/control';
import { EXIT_OK, UsageError } from '../../common/errors';
import { readBoundedFile } from '../../common/files';
import { processOutput } from '../../common/output';
import { runCli } from '../../common/run';
import { type CheckDeps, runCheck } from './check';

/**
 * `node breakglass-check.cjs --environments <stage,...> [--targets <file>] [--timeout <seconds>]`:
 * run by the pipeline beside each image gate, from the cloud assembly (docs/decisions/0032-drift-and-the-breakglass-block.md).
 * Exit 0 may deploy, 1 blocked by an outstanding breakglass change, 2 usage, 3 could not check,
 * 124 timed out, 130/143 interrupted.
 */
const USAGE_LINE = `Usage: npx delivery breakglass-check --environments <stage,...> [--targets <${BREAKGLASS_CHECK_TARGETS}>] [--timeout <seconds>] [--json]`;

export const USAGE = helpText({
  usage: `${USAGE_LINE}
       (in the pipeline: node breakglass-check.cjs ..., beside each image gate)`,
  about: `Before the environments deploy: is a breakglass change outstanding in one of them that this commit
does not carry? Then the deploy would replace the fix with what git renders: blocked until git
carries it or an operator runs \`npx delivery breakglass --env <stage> --reconcile <run id>\`.`,
  options: [
    ['--environments <list>', 'the stages about to deploy, comma-separated'],
    [
      '--targets <file>',
      `where each environment's audit table is (default ${BREAKGLASS_CHECK_TARGETS})`,
    ],
    ['--timeout <seconds>', 'the whole run (default 300)'],
  ],
  json: true,
  verdict: 'BLOCKED: an outstanding breakglass change this commit does not carry',
  runbook: 'docs/runbooks/breakglass.md',
});

/** The most a targets file or a rendered manifest of the assembly may have (each is a few KB). */
const MAX_FILE_BYTES = 1024 * 1024;

export async function main(argv: readonly string[], deps?: Partial<CheckDeps>): Promise<number> {
  const output = deps?.output ?? processOutput();
  return runCli(
    'breakglass-check',
    async () => {
      const flags = parseFlags(
        argv,
        {
          environments: { type: 'string' },
          targets: { type: 'string' },
          timeout: { type: 'string' },
          json: { type: 'boolean' },
        },
        USAGE_LINE,
      );
      if (flags.help) {
        output.out(USAGE);
        return EXIT_OK;
      }
      const environments = (flags.environments ?? '')
        .split(',')
        .map((e) => e.trim())
        .filter(Boolean);
      if (environments.length === 0)
        throw new UsageError(`--environments <stage,...> is required\n${USAGE_LINE}`);
      const timeoutSeconds = parseTimeoutSeconds('--timeout', flags.timeout, 300, 10, 3600);
      const control = new RunControl({ timeoutMs: timeoutSeconds * 1000, callTimeoutMs: 20000 });
      const stop = processSignals((signal) => control.interrupt(signal));
      try {
        const outcome = await runCheck(
          environments,
          flags.targets ?? BREAKGLASS_CHECK_TARGETS,
          {
            sts: deps?.sts ?? (() => new STSClient({})),
            clients:
              deps?.clients ??
              ((region, credentials) => ({
                dynamodb: new DynamoDBClient({ region, credentials }),
                s3: new S3Client({ region, credentials }),
                cloudFormation: new CloudFormationClient({ region, credentials }),
              })),
            // a regular file of bounded size, read within a bound, as every file a command line names
            readFile:
              deps?.readFile ??
              ((f) => readBoundedFile(f, { what: f, maxBytes: MAX_FILE_BYTES, timeoutMs: 20000 })),
            output: progressOutput(output, flags.json === true),
          },
          control,
        );
        if (flags.json)
          printJson(output, 'breakglass-check', outcome.exitCode, {
            environments: outcome.environments,
          });
        return outcome.exitCode;
      } finally {
        stop();
      }
    },
    output,
    argv,
  );
}

if (require.main === module) {
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
    setTimeout(() => process.exit(code), 2000).unref();
  });
}
