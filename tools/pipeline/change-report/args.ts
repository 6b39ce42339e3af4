import { UsageError } from '../../common/errors';
import { parseFlags } from '../../common/args';
import { helpText } from '../../common/command';
import { FINDINGS, type Finding } from './report';

const USAGE_LINE =
  'Usage: npx delivery change-report --waves <stage,...>[;<stage,...>...] [options]';

export const USAGE = helpText({
  usage: `${USAGE_LINE}
       (in the pipeline: node change-report.cjs ...; npx delivery diff shows the same report locally)`,
  about: `Before the prod approval: what deploying the synthesized prod stacks would change against what is
deployed, read through each account's CDK bootstrap lookup role. Writes a Markdown report.`,
  options: [
    ['--waves <list>', 'the prod stages, a wave\'s stages comma-separated, waves separated by ";"'],
    ['--assembly <dir>', 'the cloud assembly (default: the current directory)'],
    ['--out <dir>', 'write report.md, report.json, summary.txt and url.txt there'],
    ['--bucket <name>', 'store the report in s3://<bucket>/<prefix>/<execution id>/report.md'],
    ['--prefix <prefix>', '(default change-reports)'],
    ['--execution-id <id>', 'the pipeline execution the report belongs to'],
    ['--pipeline <name>', "the pipeline's name, for the report's title"],
    ['--topic-arn <arn>', 'publish to this SNS topic when something needs attention'],
    ['--block-on <list>', `fail (exit 1) on any of: ${FINDINGS.join(', ')} (default: none)`],
    [
      '--image-output <name>',
      'the stack output naming the image tag: changes only by a new tag are the release, reported apart',
    ],
    [
      '--summary-max <n>',
      "the most characters summary.txt (the approval's line) may take, 0-300 (default 300)",
    ],
    ['--partition <p>', 'the AWS partition (default aws)'],
    ['--call-timeout <s>', 'the most one AWS call may take, 1-300 seconds (default 30)'],
  ],
  json: true,
  verdict: 'blocked by --block-on (a stack that could not be read is reported, not an error)',
  runbook: 'docs/runbooks/promoting-to-prod.md',
});

export interface ChangeReportArgs {
  readonly waves: string[][];
  readonly assembly: string;
  readonly out?: string;
  readonly bucket?: string;
  readonly prefix: string;
  readonly executionId?: string;
  readonly pipeline?: string;
  readonly topicArn?: string;
  readonly blockOn: Finding[];
  readonly imageOutput?: string;
  readonly partition: string;
  readonly callTimeoutMs: number;
  readonly summaryMax: number;
  /** --json: the report's summary and findings as one JSON document on stdout. */
  readonly json?: boolean;
}

const STAGE = /^[a-z][a-z0-9-]{0,38}[a-z0-9]$/;

/** `a,b` → the findings, each one known: a typo must not turn blocking off silently. */
export function parseFindings(value: string | undefined, flag: string): Finding[] {
  if (value === undefined || value.trim() === '') return [];
  const items = value.split(',').map((s) => s.trim());
  const unknown = items.filter((i) => !(FINDINGS as readonly string[]).includes(i));
  if (unknown.length > 0)
    throw new UsageError(
      `${flag}: unknown ${unknown.map((u) => JSON.stringify(u)).join(', ')}; valid: ${FINDINGS.join(', ')}`,
    );
  return [...new Set(items)] as Finding[];
}

export function parseWaves(value: string | undefined): string[][] {
  if (value === undefined || value.trim() === '')
    throw new UsageError(`--waves is required\n${USAGE_LINE}`);
  const waves = value.split(';').map((w) => w.split(',').map((s) => s.trim()));
  const bad = waves.flat().filter((s) => !STAGE.test(s));
  if (bad.length > 0)
    throw new UsageError(
      `--waves: ${bad.map((b) => JSON.stringify(b)).join(', ')} is not a stage name (a-z, 0-9, "-")`,
    );
  return waves;
}

export function parseChangeReportArgs(argv: readonly string[]): ChangeReportArgs | { help: true } {
  const v = parseFlags(
    argv,
    {
      waves: { type: 'string' },
      assembly: { type: 'string' },
      out: { type: 'string' },
      bucket: { type: 'string' },
      prefix: { type: 'string' },
      'execution-id': { type: 'string' },
      pipeline: { type: 'string' },
      'topic-arn': { type: 'string' },
      'block-on': { type: 'string' },
      'image-output': { type: 'string' },
      partition: { type: 'string' },
      'call-timeout': { type: 'string' },
      'summary-max': { type: 'string' },
      json: { type: 'boolean' },
    },
    USAGE_LINE,
  );
  if (v.help) return { help: true };
  const timeout = v['call-timeout'] ?? '30';
  const seconds = /^\d+$/.test(timeout) ? Number(timeout) : NaN;
  if (!(seconds >= 1 && seconds <= 300))
    throw new UsageError(`--call-timeout: "${timeout}" must be a whole number from 1 to 300`);
  const summaryMaxText = v['summary-max'] ?? '300';
  const summaryMax = /^\d+$/.test(summaryMaxText) ? Number(summaryMaxText) : NaN;
  if (!(summaryMax >= 0 && summaryMax <= 300))
    throw new UsageError(`--summary-max: "${summaryMaxText}" must be a whole number from 0 to 300`);
  const partition = v.partition ?? 'aws';
  if (!/^aws(-[a-z]+)*$/.test(partition))
    throw new UsageError(`--partition: "${partition}" is not an AWS partition (aws, aws-cn, ...)`);
  const prefix = (v.prefix ?? 'change-reports').replace(/^\/+|\/+$/g, '');
  if (!/^[\w./-]+$/.test(prefix))
    throw new UsageError(`--prefix: "${prefix}" is not an S3 key prefix`);
  if (v['image-output'] !== undefined && !/^[A-Za-z0-9]{1,255}$/.test(v['image-output']))
    throw new UsageError(`--image-output: "${v['image-output']}" is not a stack output name`);
  // it becomes part of an S3 key: a CodePipeline execution id is a UUID
  if (v['execution-id'] !== undefined && !/^[\w-]{1,100}$/.test(v['execution-id']))
    throw new UsageError(`--execution-id: "${v['execution-id']}" is not a pipeline execution id`);
  if (v.bucket !== undefined && v['execution-id'] === undefined)
    throw new UsageError('--bucket needs --execution-id (the report is stored under it)');
  return {
    json: v.json === true,
    waves: parseWaves(v.waves),
    assembly: v.assembly ?? '.',
    out: v.out,
    bucket: v.bucket,
    prefix,
    executionId: v['execution-id'],
    pipeline: v.pipeline,
    topicArn: v['topic-arn'],
    blockOn: parseFindings(v['block-on'], '--block-on'),
    imageOutput: v['image-output'],
    partition,
    callTimeoutMs: seconds * 1000,
    summaryMax,
  };
}
