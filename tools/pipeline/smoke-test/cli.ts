import { parseFlags } from '../../common/args';
import { helpText } from '../../common/command';
import { EXIT_COULD_NOT_CHECK, EXIT_FAILED, EXIT_OK, EXIT_USAGE } from '../../common/errors';
import { smokeTest } from './smoke';

const USAGE_LINE =
  'Usage: npx delivery smoke-test --url <http(s)://host> --expect-version <tag> [--tls-host-name <dns name>] [--timeout <seconds>] [--interval <seconds>]';

const USAGE = helpText({
  usage: `${USAGE_LINE}
       (in the pipeline: node smoke-test.cjs ..., bundled by npm run bundle:tools)`,
  about: `After a deployment: GET <url>/version until it answers 200 with the expected version (the image
tag the stage deployed), retrying within --timeout (a new load balancer takes minutes).`,
  options: [
    ['--url <url>', "the service's address (http:// or https://)"],
    ['--expect-version <tag>', 'the version /version must answer'],
    ['--tls-host-name <dns name>', "the name the service's certificate must match (https only)"],
    ['--timeout <seconds>', 'give up after this long (default 600)'],
    ['--interval <seconds>', 'wait between attempts (default 10)'],
  ],
  verdict: 'the service did not answer the expected version within --timeout',
  runbook: 'docs/runbooks/alarm-rollback.md',
});
export async function main(argv: readonly string[]): Promise<number> {
  let values: {
    url?: string;
    'expect-version'?: string;
    'tls-host-name'?: string;
    timeout?: string;
    interval?: string;
    help?: boolean;
  };
  try {
    values = parseFlags(
      argv,
      {
        url: { type: 'string' },
        'expect-version': { type: 'string' },
        'tls-host-name': { type: 'string' },
        timeout: { type: 'string' },
        interval: { type: 'string' },
      },
      USAGE_LINE,
    );
  } catch (e) {
    console.error(`smoke-test: ERROR ${(e as Error).message}`);
    return EXIT_USAGE;
  }
  if (values.help) {
    console.log(USAGE);
    return EXIT_OK;
  }
  const timeout = Number(values.timeout ?? '600');
  const interval = Number(values.interval ?? '10');
  const problems: string[] = [];
  if (!values.url || !/^https?:\/\/[^/\s]+/.test(values.url))
    problems.push(`--url must be an http(s) URL, got ${JSON.stringify(values.url ?? '')}`);
  if (!values['expect-version']) problems.push('--expect-version is required');
  const tlsHostName = values['tls-host-name'];
  if (tlsHostName !== undefined && !/^https:\/\//.test(values.url ?? ''))
    problems.push(
      `--tls-host-name needs an https:// --url, got ${JSON.stringify(values.url ?? '')}`,
    );
  if (tlsHostName !== undefined && !/^[a-z0-9.-]+$/i.test(tlsHostName))
    problems.push(`--tls-host-name must be a DNS name, got ${JSON.stringify(tlsHostName)}`);
  if (!Number.isFinite(timeout) || timeout <= 0)
    problems.push(`--timeout must be a positive number of seconds, got ${values.timeout}`);
  if (!Number.isFinite(interval) || interval <= 0)
    problems.push(`--interval must be a positive number of seconds, got ${values.interval}`);
  if (problems.length > 0) {
    console.error(`smoke-test: ERROR ${problems.join('; ')}\n${USAGE_LINE}`);
    return EXIT_USAGE;
  }
  const result = await smokeTest({
    url: values.url!,
    expectVersion: values['expect-version']!,
    tlsHostName,
    timeoutMs: timeout * 1000,
    intervalMs: interval * 1000,
  });
  return result.ok ? EXIT_OK : EXIT_FAILED;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => (process.exitCode = code),
    (e: unknown) => {
      console.error(`smoke-test: ERROR ${(e as Error).message}`);
      process.exitCode = EXIT_COULD_NOT_CHECK;
    },
  );
}
