import { UsageError } from '../../../../tools/common/errors';
import { parseNodeUpdatesArgs } from '../../../../tools/operator/node-updates/args';

describe('node-updates command line', () => {
  test('defaults, both spellings of the config file, the age limit, help', () => {
    expect(parseNodeUpdatesArgs([])).toEqual({
      kind: 'run',
      configFile: undefined,
      maxAgeDays: 30,
      json: false,
    });
    expect(parseNodeUpdatesArgs(['-c', 'config=config/x.json'])).toEqual({
      kind: 'run',
      configFile: 'config/x.json',
      maxAgeDays: 30,
      json: false,
    });
    expect(
      parseNodeUpdatesArgs(['--config', 'config/x.json', '--max-age-days=14', '--json']),
    ).toEqual({
      kind: 'run',
      configFile: 'config/x.json',
      maxAgeDays: 14,
      json: true,
    });
    expect(parseNodeUpdatesArgs(['--help'])).toEqual({ kind: 'help' });
  });

  test.each([
    [['--max-age-days', '3', '--max-age-days', '4'], /--max-age-days is given twice/],
    [['-c', 'config=a.json', '-c', 'config=b.json'], /-c is given twice/],
    [['-c', 'config=a.json', '--config', 'b.json'], /either -c config=<file> or --config <file>/],
    [['-c', 'region=eu-west-1'], /-c takes config=<file.json>/],
    [['--max-age-days', '0'], /from 1 to 365/],
    [['--max-age-days', '3.5'], /whole number/],
    [['--max-age-days'], /--max-age-days needs a value/],
    [['--config', '--max-age-days', '3'], /--config needs a value/],
    [['--maxage', '3'], /unknown option --maxage/],
    [['stale'], /unexpected argument "stale"/],
    [['--help=yes'], /--help takes no value/],
  ])('%j is refused, exit 2', (argv, message) => {
    let error: unknown;
    try {
      parseNodeUpdatesArgs(argv);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(UsageError);
    expect((error as UsageError).exitCode).toBe(2);
    expect((error as UsageError).message).toMatch(message);
  });
});
