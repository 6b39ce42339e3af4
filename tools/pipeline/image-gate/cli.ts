import { ECRClient } from '@aws-sdk/client-ecr';
import { printJson } from '../../common/command';
import { EXIT_COULD_NOT_CHECK, UsageError, exitCodeOf } from '../../common/errors';
import { memoryOutput } from '../../common/output';
import { type ReadTagFile, USAGE, gateOptions, parseGateArgs } from './args';
import { type GateDeps, describeError, oneLine, runGate } from './gate';

/**
 * `npx delivery image-gate --repository <name> --tag <tag> --regions eu-west-1`, or in the
 * pipeline `node image-gate.cjs ...` (bundled by tools/pipeline/image-gate/bundle.ts).
 * Exit 0 PASS, 1 BLOCKED, 2 bad usage, 3 no verdict (ERROR), 124 TIMEOUT (the one table of
 * tools/common/errors.ts); the last line says which and why. Never a stack trace.
 */

export interface CliIo {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
  /** Reads --tag-file; the default refuses anything but a small regular file (tools/common/files.ts). */
  readonly readTagFile?: ReadTagFile;
  /** Overrides for tests; the defaults talk to ECR (honouring AWS_ENDPOINT_URL) and really wait. */
  readonly gate?: Partial<Omit<GateDeps, 'log'>>;
}

const defaultIo: CliIo = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

export async function main(
  argv: readonly string[] = process.argv.slice(2),
  io: CliIo = defaultIo,
): Promise<number> {
  let json = argv.includes('--json');
  // --json: the result is one JSON document on stdout; every line goes to stderr.
  const say = (line: string) => (json ? io.err(line) : io.out(line));
  const document = (exitCode: number, result: Record<string, unknown>) => {
    if (!json) return;
    const doc = memoryOutput();
    printJson(doc, 'image-gate', exitCode, result);
    io.out(doc.stdout.trimEnd());
  };
  try {
    const parsed = parseGateArgs(argv);
    if (parsed.kind === 'help') {
      io.out(USAGE);
      return 0;
    }
    json = parsed.json;
    const options = await gateOptions(parsed, io.readTagFile);
    const result = await runGate(options, {
      ecrClient: io.gate?.ecrClient ?? ((region) => new ECRClient({ region })),
      sleep: io.gate?.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms))),
      now: io.gate?.now ?? Date.now,
      callTimeoutMs: io.gate?.callTimeoutMs,
      log: say,
    });
    (result.verdict === 'PASS' ? say : io.err)(
      `image-gate: ${result.verdict} ${oneLine(result.reason)}`,
    );
    document(result.exitCode, {
      verdict: result.verdict,
      reason: result.reason,
      repository: options.repository,
      tag: options.tag,
      regions: result.regions.map((r) => ({
        region: r.region,
        verdict: r.verdict,
        reason: r.reason,
        digest: r.digest ?? null,
        counts: r.counts ?? null,
      })),
      findings: result.findings,
    });
    return result.exitCode;
  } catch (e) {
    const usage = e instanceof UsageError;
    const message = usage ? `${oneLine(e.message.split('\n')[0])} (see --help)` : describeError(e);
    const code = usage ? e.exitCode : (exitCodeOf(e) ?? EXIT_COULD_NOT_CHECK);
    io.err(`image-gate: ERROR ${message}`);
    document(code, { verdict: 'ERROR', error: message });
    return code;
  }
}

if (require.main === module) {
  void main().then((code) => {
    process.exitCode = code;
  });
}
