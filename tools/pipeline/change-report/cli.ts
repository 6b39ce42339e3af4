import * as fs from 'node:fs';
import * as path from 'node:path';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { printJson, progressOutput } from '../../common/command';
import {
  EXIT_COULD_NOT_CHECK,
  EXIT_FAILED,
  EXIT_OK,
  EXIT_USAGE,
  UsageError,
  exitCodeOf,
} from '../../common/errors';
import { type Output, processOutput } from '../../common/output';
import { safeForTerminal } from '../../common/terminal';
import { type ChangeReportArgs, USAGE, parseChangeReportArgs } from './args';
import { AssemblyError, readAssemblyStacks, stacksOfStages } from './assembly';
import { DeployedReader, type ReaderOptions, bounded } from './deployed';
import { needsAttention, notificationText, renderMarkdown } from './render';
import { type ChangeReport, changeReport, fitSummary, stackReport } from './report';

/**
 * The pipeline's change report (lib/pipeline/change-report-step.ts runs the bundle
 * `node tools/change-report.cjs ...` in the cloud assembly, beside the prod image gate, before
 * the approval). Prints progress and the report, writes it where --out and --bucket say, tells
 * the topic when something needs attention, and exits 1 when --block-on says so.
 */
export interface CliDeps {
  readonly output?: Output;
  readonly reader?: Pick<ReaderOptions, 'sts' | 'cloudFormation'>;
  readonly s3?: (region?: string) => S3Client;
  readonly sns?: (region: string) => SNSClient;
  /** CodeBuild's own variables (CODEBUILD_BUILD_URL, AWS_REGION). @default process.env */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

const CONSOLE: Readonly<Record<string, string>> = {
  aws: 'console.aws.amazon.com',
  'aws-cn': 'console.amazonaws.cn',
  'aws-us-gov': 'console.amazonaws-us-gov.com',
};

/** The S3 console page of one object: what the approval's review link opens. */
export function s3ConsoleUrl(
  partition: string,
  region: string,
  bucket: string,
  key: string,
): string | undefined {
  const host = CONSOLE[partition];
  if (!host) return undefined;
  return `https://${host}/s3/object/${encodeURIComponent(bucket)}?region=${region}&prefix=${encodeURIComponent(key)}`;
}

export interface RunResult {
  readonly report: ChangeReport;
  readonly exitCode: number;
  readonly url?: string;
}

export async function runChangeReport(
  args: ChangeReportArgs,
  deps: CliDeps = {},
): Promise<RunResult> {
  const out = deps.output ?? processOutput();
  const env = deps.env ?? process.env;
  const region = env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
  const targets = stacksOfStages(readAssemblyStacks(args.assembly), args.waves);
  out.out(
    `change-report: reading ${targets.length} deployed stacks (${targets.map((t) => t.stack.stage).join(', ')})`,
  );
  const reader = new DeployedReader({
    partition: args.partition,
    sessionName: `change-report-${(args.executionId ?? 'local').slice(0, 40)}`,
    callTimeoutMs: args.callTimeoutMs,
    ...deps.reader,
  });
  const stacks = await Promise.all(
    targets.map(async ({ wave, stack }) => {
      const deployed = await reader.read(stack);
      const r = stackReport(wave, stack, deployed, { imageTagOutput: args.imageOutput });
      out.out(
        safeForTerminal(
          `change-report: ${stack.stage} (${stack.stackName}): ${
            r.state === 'unchecked'
              ? `COULD NOT CHECK: ${r.reason}`
              : `${r.state}, +${r.counts.added} ~${r.counts.modified} replaced ${r.counts.replaced} -${r.counts.removed}`
          }`,
        ),
      );
      return r;
    }),
  );
  const report = changeReport(stacks);
  const title = `before prod: ${args.pipeline ?? 'pipeline'}${args.executionId ? ` execution ${args.executionId}` : ''}`;
  const markdown = renderMarkdown(report, {
    title,
    against: 'deployed stacks, read through each account’s CDK bootstrap lookup role',
    blockOn: args.blockOn,
  });
  out.out('');
  for (const line of markdown.split('\n')) out.out(safeForTerminal(line));

  // Where the approval's review link points: the S3 object, or this build's page (its log holds
  // the same report) when the object could not be written.
  let url = env.CODEBUILD_BUILD_URL;
  if (args.bucket && args.executionId) {
    const key = `${args.prefix}/${args.executionId}/report.md`;
    try {
      const s3 = (deps.s3 ?? ((r) => new S3Client({ region: r })))(region);
      const put = (Key: string, Body: string, ContentType: string) =>
        bounded(`PutObject s3://${args.bucket}/${Key}`, args.callTimeoutMs, (abortSignal) =>
          s3.send(new PutObjectCommand({ Bucket: args.bucket, Key, Body, ContentType }), {
            abortSignal,
          }),
        );
      await put(key, markdown, 'text/markdown; charset=utf-8');
      await put(
        `${args.prefix}/${args.executionId}/report.json`,
        JSON.stringify({ summary: report.summary, stacks: report.stacks }, null, 2),
        'application/json',
      );
      url = (region && s3ConsoleUrl(args.partition, region, args.bucket, key)) ?? url;
      out.out(`change-report: stored s3://${args.bucket}/${key}`);
    } catch (e) {
      out.err(
        safeForTerminal(
          `change-report: WARNING could not store the report in s3://${args.bucket}/${key} (${(e as Error).name}: ${(e as Error).message}); the approval links to this build's log instead`,
        ),
      );
    }
  }

  if (args.topicArn && needsAttention(report)) {
    const topicRegion = args.topicArn.split(':')[3] || region || 'us-east-1';
    try {
      const sns = (deps.sns ?? ((r) => new SNSClient({ region: r })))(topicRegion);
      await bounded(`Publish to ${args.topicArn}`, args.callTimeoutMs, (abortSignal) =>
        sns.send(
          new PublishCommand({
            TopicArn: args.topicArn,
            // SNS subjects: ASCII, at most 100 characters (API_Publish)
            Subject: `Change before prod needs review: ${args.pipeline ?? 'pipeline'}`
              .replace(/[^\x20-\x7e]/g, '?')
              .slice(0, 100),
            Message: notificationText(report, `Infrastructure change ${title}`, url),
          }),
          { abortSignal },
        ),
      );
      out.out('change-report: the notification topic was told');
    } catch (e) {
      out.err(
        safeForTerminal(
          `change-report: WARNING could not notify ${args.topicArn} (${(e as Error).name}: ${(e as Error).message}); the approval text still carries the summary`,
        ),
      );
    }
  }

  if (args.out) {
    fs.mkdirSync(args.out, { recursive: true });
    fs.writeFileSync(path.join(args.out, 'report.md'), markdown);
    fs.writeFileSync(
      path.join(args.out, 'report.json'),
      JSON.stringify({ summary: report.summary, stacks: report.stacks }, null, 2),
    );
    // the approval's line: the longest form that fits what the approval text leaves it
    fs.writeFileSync(path.join(args.out, 'summary.txt'), fitSummary(report, args.summaryMax));
    fs.writeFileSync(path.join(args.out, 'url.txt'), url ?? 'see the ChangeReport action log');
  }

  const blocking = args.blockOn.filter((f) => report.findings.has(f));
  if (blocking.length > 0) {
    out.err(
      `change-report: BLOCKED by prod.changeReport.blockOn (${blocking.join(', ')}): ${report.summary}`,
    );
    return { report, exitCode: EXIT_FAILED, url };
  }
  out.out(`change-report: ${report.summary}`);
  return { report, exitCode: EXIT_OK, url };
}

export async function main(argv: readonly string[], deps: CliDeps = {}): Promise<number> {
  const output = deps.output ?? processOutput();
  // --json: the result is one JSON document on stdout; progress and the report go to stderr
  const json = argv.includes('--json');
  const out = progressOutput(output, json);
  try {
    const parsed = parseChangeReportArgs(argv);
    if ('help' in parsed) {
      output.out(USAGE);
      return EXIT_OK;
    }
    const result = await runChangeReport(parsed, { ...deps, output: out });
    if (json)
      printJson(output, 'change-report', result.exitCode, {
        summary: result.report.summary,
        findings: [...result.report.findings.keys()],
        url: result.url ?? null,
      });
    return result.exitCode;
  } catch (e) {
    // the one exit-code table (tools/common/errors.ts): a command line or a cloud assembly that
    // cannot be used is bad usage (2, nothing read); anything else unexpected is "could not check"
    const usage = e instanceof UsageError || e instanceof AssemblyError;
    const message = usage
      ? e.message.split('\n')[0]
      : `${(e as Error).name}: ${(e as Error).message}`;
    out.err(safeForTerminal(`change-report: ERROR ${message}`));
    const code = usage ? EXIT_USAGE : (exitCodeOf(e) ?? EXIT_COULD_NOT_CHECK);
    if (json) printJson(output, 'change-report', code, { error: message });
    return code;
  }
}

if (require.main === module) {
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
