import { ECRClient } from '@aws-sdk/client-ecr';
import { ArgsError, USAGE, parseGateArgs } from './args';
import { type GateDeps, describeError, oneLine, runGate } from './gate';

/**
 * `npm run image-gate -- --repository <repository> --tag <tag> --regions eu-west-1`, or in the
 * pipeline `node image-gate.cjs ...` (bundled by tools/pipeline/image-gate/bundle.ts).
 * Exit 0 PASS, 1 BLOCKED, 2 ERROR; the last line says which and why. Never a stack trace.
 */

export interface CliIo {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
  readonly readFile?: (path: string) => string;
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
  try {
    const parsed = parseGateArgs(argv, io.readFile);
    if (parsed.kind === 'help') {
      io.out(USAGE);
      return 0;
    }
    const result = await runGate(parsed.options, {
      ecrClient: io.gate?.ecrClient ?? ((region) => new ECRClient({ region })),
      sleep: io.gate?.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms))),
      now: io.gate?.now ?? Date.now,
      callTimeoutMs: io.gate?.callTimeoutMs,
      log: io.out,
    });
    (result.verdict === 'PASS' ? io.out : io.err)(
      `image-gate: ${result.verdict} ${oneLine(result.reason)}`,
    );
    return result.exitCode;
  } catch (e) {
    const message =
      e instanceof ArgsError ? `${oneLine(e.message)} (see --help)` : describeError(e);
    io.err(`image-gate: ERROR ${message}`);
    return 2;
  }
}

if (require.main === module) {
  void main().then((code) => {
    process.exitCode = code;
  });
}
