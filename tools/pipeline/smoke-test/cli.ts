import { parseFlags } from '../../common/args';
import { smokeTest } from './smoke';

const USAGE =
  'usage: smoke-test --url <http(s)://host> --expect-version <tag> [--tls-host-name <dns name>] [--timeout <seconds>] [--interval <seconds>]';

export async function main(argv: string[]): Promise<number> {
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
      USAGE,
    );
  } catch (e) {
    console.error(`smoke-test: ERROR ${(e as Error).message}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
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
    console.error(`smoke-test: ERROR ${problems.join('; ')}\n${USAGE}`);
    return 2;
  }
  const result = await smokeTest({
    url: values.url!,
    expectVersion: values['expect-version']!,
    tlsHostName,
    timeoutMs: timeout * 1000,
    intervalMs: interval * 1000,
  });
  return result.ok ? 0 : 1;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => (process.exitCode = code),
    (e: unknown) => {
      console.error(`smoke-test: ERROR ${(e as Error).message}`);
      process.exitCode = 2;
    },
  );
}
