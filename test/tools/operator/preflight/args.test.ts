import { UsageError } from '../../../../tools/common/errors';
import { parsePreflightArgs } from '../../../../tools/operator/preflight/args';

test('defaults: STACK_ENVIRONMENTS, caller credentials, 8 at a time, 20 s per call', () => {
  expect(parsePreflightArgs([])).toEqual({
    help: false,
    configFile: undefined,
    roleName: undefined,
    concurrency: 8,
    callTimeoutMs: 20000,
    json: false,
  });
});

test('-c config=<file> as for cdk synth, --role-name, bounds', () => {
  expect(
    parsePreflightArgs([
      '-c',
      'config=config/my-org.json',
      '--role-name',
      'PlatformReadOnly',
      '--concurrency',
      '4',
      '--call-timeout=5',
    ]),
  ).toEqual({
    help: false,
    configFile: 'config/my-org.json',
    roleName: 'PlatformReadOnly',
    concurrency: 4,
    callTimeoutMs: 5000,
    json: false,
  });
});

test.each([
  [['-c', 'config=a.json', '-c', 'config=b.json'], /-c is given twice/],
  [['--role-name', 'A', '--role-name', 'B'], /--role-name is given twice/],
  [['-c', 'foo=bar'], /-c takes config=<file.json>, as for cdk synth/],
  [['--role-name'], /--role-name needs a value/],
  [['--role-name', '--concurrency', '2'], /--role-name needs a value/],
  [['--role-name', 'arn:aws:iam::111111111111:role/X'], /not an IAM role name/],
  [['--concurrency', '0'], /--concurrency: "0" must be a whole number from 1 to 32/],
  [['--call-timeout', '1.5'], /--call-timeout: "1.5" must be a whole number from 1 to 300/],
  [['--profile', 'x'], /unknown option --profile/],
  [['extra'], /unexpected argument "extra"/],
])('%j is refused: %s', (argv, message) => {
  expect(() => parsePreflightArgs(argv)).toThrow(UsageError);
  expect(() => parsePreflightArgs(argv)).toThrow(message);
});
