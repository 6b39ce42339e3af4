import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as cxapi from 'aws-cdk-lib/cx-api';
import fc from 'fast-check';
import { z } from 'zod';
import {
  CHANGE_REPORT_FINDINGS,
  AWS_REGIONS,
  ConfigError,
  type DeliveryConfigInput,
  STACK_ENVIRONMENTS,
  allEnvironments,
  validateConfig,
} from '../../lib/config';
import { deliveryConfigSchema } from '../../lib/config/schema';
import { pipelineStackResourceEstimate } from '../../lib/config/pipeline-shape';
import { buildApp } from '../../lib/app';
import exampleMultiRegion from '../../config/example-multi-region.json';
import { CDK_JSON_CONTEXT, REPO_ROOT } from '../support/synth';

// A fuzz test of the configuration (issue 27): values for every key of the schema, hostile and
// plausible, mutated into valid configurations. Every value is either refused by validation (a
// ConfigError with a path and a message for each problem, nothing else thrown) or synthesizes.
//
// The synth takes seconds and the machine is shared, so the two properties differ in size:
//   - validation, on FUZZ_RUNS configurations (default 3000; each takes milliseconds);
//   - synth, on FUZZ_SYNTH_RUNS configurations that validation accepted (default 12), built from
//     values at the edges of what validation accepts; a crash, an error annotation in the cloud
//     assembly, or a pipeline stack larger than validation's estimate fails it.
// Runs are reproducible: FUZZ_SEED (default below) is printed with any counterexample. To dig
// deeper: FUZZ_RUNS=20000 FUZZ_SYNTH_RUNS=200 FUZZ_SEED=$RANDOM npx jest test/config/fuzz.test.ts

const SEED = Number(process.env.FUZZ_SEED ?? 20261206);
const RUNS = Number(process.env.FUZZ_RUNS ?? 3000);
const SYNTH_RUNS = Number(process.env.FUZZ_SYNTH_RUNS ?? 12);

type Json = unknown;
type Plain = Record<string, Json>;

// ---------------------------------------------------------------------------------------------
// Values: per key, values validation should accept (`valid`, also used for the synth sample)
// and values it should refuse or that sit at its edges (`hostile`).

/** Values no key expects, or that JavaScript objects and JSON treat specially. */
const anyHostile: fc.Arbitrary<Json> = fc.oneof(
  fc.constantFrom<Json>(
    null,
    true,
    false,
    0,
    -1,
    1.5,
    2 ** 31,
    2 ** 53 + 2,
    -0,
    Number.NaN,
    Number.POSITIVE_INFINITY,
    '',
    ' ',
    'constructor',
    '__proto__',
    'toString',
    'hasOwnProperty',
    '\u0000',
    '\ud800',
    'a'.repeat(10_000),
    '$(reboot)',
    '../../etc/passwd',
    [],
    {},
    { __proto__: null },
  ),
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.integer(),
  fc.double(),
  fc.array(fc.string({ maxLength: 5 }), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 }), { maxKeys: 2 }),
);

const account = fc.constantFrom('111111111111', '222222222222', '333333333333', '444444444444');
/** Regions the synth sample deploys to: the default AZs hold in every account. */
const SYNTH_REGIONS = [
  'eu-west-1',
  'us-east-1',
  'us-east-2',
  'us-west-2',
  'eu-central-1',
  'eu-north-1',
  'ap-southeast-2',
  'ap-northeast-1',
  'ca-central-1',
];
const region = fc.constantFrom(...SYNTH_REGIONS);
const anyRegion = fc.constantFrom(...AWS_REGIONS, 'us-east-9', 'EU-WEST-1', 'eu_west_1');
const stageName = fc.oneof(
  fc.stringMatching(/^[a-z][a-z0-9-]{0,10}[a-z0-9]$/),
  fc.constantFrom('prod-wave-1', 'prod-wave-2', 'prod-wave-3', 'preprod-eu-west-1', 'a'.repeat(40)),
);
const hostileStageName = fc.constantFrom(
  'constructor',
  'hasOwnProperty',
  '__proto__',
  'valueOf',
  'prod-wave-2',
  'a'.repeat(41),
  'A',
  '-a',
  'a-',
);
const token = (...values: Json[]) => fc.constantFrom(...values);
/** Words of a schedule. */
const word = (...values: string[]) => fc.constantFrom(...values);
/** Cron fields from a vocabulary of valid, special and out-of-range tokens. */
const cronField = (...extra: string[]) =>
  word('*', '0', '5', '9-16', '*/15', '0/30', '59', '60', '99', '-1', '1,2,3', '16-9', ...extra);
const windowCron = fc
  .tuple(
    word('*', '*', '0'),
    cronField(),
    cronField('23', '24'),
    word('?', '?', '*', '1', '15', '29', '30', '31', '32', 'L', 'LW', 'L-3', '15W', '31W'),
    word('*', '2', 'FEB', '4,6,9,11', 'JAN-DEC', '13', '0'),
    word('?', 'MON-THU', 'MON', '6L', 'MON#2', 'MON#5', 'MON#9', 'FUN', '1-7', '*', 'L'),
    fc.option(word('2025', '2027', '2030-2031', '*', '1969', '2200', '2028/2'), {
      nil: undefined,
    }),
  )
  .map((f) => f.filter((x) => x !== undefined).join(' '));
const validWindowCron = word('* * 9-16 ? * MON-THU', '* 0-30 22-23 L * ?', '* * 10-14 ? * 6L');
const scanSchedule = fc.oneof(
  fc
    .tuple(
      word('', '0 '),
      cronField(),
      cronField(),
      word('?', '*', 'L', '30', '31', '15W'),
      word('*', '2', '4', '13'),
      word('?', '*', 'SUN', 'THU#3', 'MON#9', '6L'),
      word('*', '2025', '2030', '1969'),
    )
    .map(([s, ...f]) => `cron(${s}${f.join(' ')})`),
  fc
    .tuple(
      fc.integer({ min: -1, max: 50_000 }),
      word('minute', 'minutes', 'hour', 'hours', 'day', 'days'),
    )
    .map(([n, u]) => `rate(${n} ${u})`),
);
const validScanSchedule = word(
  'rate(1 day)',
  'rate(12 hours)',
  'cron(0 3 ? * * *)',
  'cron(0 2 ? * THU#3 *)',
);
const timeZone = token(
  'UTC',
  'Europe/Dublin',
  'Asia/Kolkata',
  'Etc/UTC',
  'America/Argentina/Buenos_Aires',
);
const hostileTimeZone = token('utc', 'europe/dublin', 'Mars/Olympus', 'GMT+01:00', '+01:00', 'Z');
const email = fc.oneof(
  fc.constantFrom('oncall@example.com', 'OnCall@Example.com', 'a+b@sub.example.co.uk'),
  fc
    .tuple(
      fc.stringMatching(/^[a-z0-9]{1,20}(\.[a-z0-9]{1,10})?$/),
      fc.stringMatching(/^[a-z]{1,20}$/),
    )
    .map(([local, domain]) => `${local}@${domain}.example.com`),
);
const hostileEmail = fc.constantFrom(
  'a..b@example.com',
  `${'a'.repeat(65)}@example.com`,
  `a@${'b'.repeat(64)}.com`,
  `${'a'.repeat(60)}@${'b'.repeat(230)}.example.com`,
  'oncall@',
  'on call@example.com',
  'constructor',
);
const chatbotArn = (partitions: string[]) =>
  fc
    .tuple(fc.constantFrom(...partitions), account, fc.stringMatching(/^[a-z0-9-]{1,20}$/))
    .map(([p, a, n]) => `arn:${p}:chatbot::${a}:chat-configuration/slack-channel/${n}`);
const CONNECTION =
  'arn:aws:codeconnections:eu-west-1:111111111111:connection/0123abcd-0123-4567-89ab-0123456789ab';
const repositoryPart = fc.oneof(
  fc.stringMatching(/^[a-z][a-z0-9-]{0,10}$/),
  fc.constantFrom(
    '.',
    '..',
    '-org',
    'org-',
    'a'.repeat(101),
    'Work-Space',
    'x.git',
    'x.wiki',
    '_x',
  ),
);
const repository = fc
  .array(repositoryPart, { minLength: 1, maxLength: 4 })
  .map((parts) => parts.join('/'));
const branch = fc.oneof(
  fc.constantFrom('main', 'release/1.2', 'main..x', 'a b', '-x', 'HEAD', 'x.lock', ''),
  fc.stringMatching(/^[a-z][a-z0-9/_-]{0,20}$/),
);
const cidr = fc
  .tuple(
    fc.integer({ min: 0, max: 300 }),
    fc.integer({ min: 0, max: 255 }),
    fc.integer({ min: 0, max: 33 }),
  )
  .map(([a, b, p]) => `${a}.${b}.0.0/${p}`);
const greeting = fc.oneof(
  fc.string({ minLength: 1, maxLength: 64 }).filter((s) => !/\p{Cc}/u.test(s)),
  fc.string({ unit: 'binary', maxLength: 80 }),
  fc.constantFrom('Hello', 'Hi\n', 'x'.repeat(65), '\ud83d', 'Grüß dich 👋'),
);

/** One key of the schema: where it lives and the values it is fed. */
interface KeySpec {
  /** `environment.<key>` for keys of every environment, else the path from the root. */
  readonly key: string;
  readonly valid: fc.Arbitrary<Json>;
  readonly hostile: fc.Arbitrary<Json>;
}
const num = (min: number, max: number) => fc.integer({ min, max });

const ROOT_KEYS: KeySpec[] = [
  {
    key: 'service',
    valid: fc.record({ name: token('orders-api', 'hello-web') }),
    hostile: anyHostile,
  },
  {
    key: 'service.name',
    valid: fc.oneof(fc.stringMatching(/^[a-z][a-z0-9-]{0,20}[a-z0-9]$/), token('a', 'a-1b')),
    hostile: token('', 'Orders', '1abc', 'a_b', 'orders-', 'a'.repeat(64), 'a'.repeat(60)),
  },
  // Only app/ holds a Dockerfile in this repository: another directory validates, then fails the
  // synth with a ConfigError at service.appDir (test/bin/app-cli.test.ts), so it is not fed here.
  {
    key: 'service.appDir',
    valid: token('app'),
    hostile: token('', '.', '..', '../x', '/srv/app', 'a b', 'app;rm', 'app/'),
  },
  {
    key: 'service.port',
    valid: token(8080, 9000, 1024, 65535),
    hostile: fc.oneof(num(-5, 70000), token(8081, 1023, 80, 1.5)),
  },
  {
    key: 'service.healthPath',
    valid: token('/healthz', '/', '/live/z-1'),
    hostile: token('', 'healthz', '/a b', '/x?y', `/${'a'.repeat(1024)}`),
  },
  {
    key: 'service.readyPath',
    valid: token('/readyz', '/ready/now'),
    hostile: token('', 'readyz', '/a#b', '/%20'),
  },
  {
    key: 'pipeline',
    valid: fc.record({ account, region: fc.constant('eu-west-1') }),
    hostile: anyHostile,
  },
  { key: 'pipeline.account', valid: account, hostile: token('1', '1111111111111', 111111111111) },
  { key: 'pipeline.region', valid: token('eu-west-1'), hostile: anyRegion },
  {
    key: 'pipeline.name',
    valid: fc.oneof(fc.stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,30}$/), token('a'.repeat(86))),
    hostile: fc.oneof(
      fc.stringMatching(/^[A-Za-z0-9.@_-]{1,30}$/),
      token('', 'a b', 'a'.repeat(87), 'a'.repeat(101), 'constructor', '5i_.miQ9-@'),
    ),
  },
  { key: 'pipeline.requireRollbackTarget', valid: fc.boolean(), hostile: token('true', 1) },
  {
    key: 'source',
    valid: fc.oneof(
      fc.record({
        repositoryName: token('hello-web', 'svc.x_y-z'),
        branch: token('main', 'release/1.2'),
      }),
      fc.record({
        provider: token('GitHub', 'GitLab', 'Bitbucket'),
        connectionArn: token(CONNECTION),
        repository: token('my-org/hello-web', 'a/b'),
      }),
    ),
    hostile: anyHostile,
  },
  {
    key: 'source.provider',
    valid: token('CodeCommit'),
    hostile: token('Gitea', 'github', 'GitHub', 'Bitbucket'),
  },
  {
    key: 'source.repositoryName',
    valid: token('hello-web', 'x'),
    hostile: token('', 'a b', 'a'.repeat(101)),
  },
  { key: 'source.branch', valid: token('main', 'release/1.2'), hostile: branch },
  { key: 'source.create', valid: fc.boolean(), hostile: token('true', 1) },
  {
    key: 'source.connectionArn',
    valid: token(CONNECTION),
    hostile: token(
      CONNECTION.replace('eu-west-1', 'eu-west-9'),
      CONNECTION.replace('arn:aws:', 'arn:aws-cn:'),
      'arn:aws:codeconnections:eu-west-1:111111111111:host/x',
    ),
  },
  { key: 'source.repository', valid: token('my-org/hello-web'), hostile: repository },
  { key: 'image', valid: fc.record({ scanning: token('BASIC', 'ENHANCED') }), hostile: anyHostile },
  {
    key: 'image.repositoryName',
    valid: token('hello-web', 'team/hello-web', 'ab'),
    hostile: token('a', 'Hello', 'a'.repeat(257), 'a//b'),
  },
  { key: 'image.architecture', valid: token('arm64'), hostile: token('amd64', 'x86', 'ARM64') },
  {
    key: 'image.failOn',
    valid: token('CRITICAL', 'HIGH', 'MEDIUM', 'LOW'),
    hostile: token('critical', 'NONE'),
  },
  { key: 'image.scanning', valid: token('ENHANCED', 'BASIC'), hostile: token('enhanced', 'NONE') },
  { key: 'image.keepImages', valid: num(30, 1000), hostile: num(-5, 2000) },
  { key: 'preprod', valid: fc.record({ account, region }), hostile: anyHostile },
  {
    key: 'prod',
    valid: fc.record({ waves: fc.constant([[{ account: '333333333333', region: 'eu-west-1' }]]) }),
    hostile: anyHostile,
  },
  {
    key: 'prod.waves',
    valid: fc.array(fc.array(fc.record({ account, region }), { minLength: 1, maxLength: 3 }), {
      minLength: 1,
      maxLength: 3,
    }),
    hostile: fc.oneof(
      token([], [[]], [[{}]]),
      fc.array(
        fc.array(fc.record({ account, region: anyRegion }), { minLength: 1, maxLength: 30 }),
        { minLength: 1, maxLength: 4 },
      ),
    ),
  },
  {
    key: 'prod.deploymentWindows',
    valid: fc.array(fc.record({ wave: num(1, 2), cron: validWindowCron, timeZone }), {
      maxLength: 1,
    }),
    hostile: fc.array(
      fc.record({
        wave: num(-1, 5),
        cron: windowCron,
        timeZone: fc.oneof(timeZone, hostileTimeZone),
      }),
      { maxLength: 3 },
    ),
  },
  { key: 'prod.deploymentWindows.wave', valid: num(1, 2), hostile: num(-2, 9) },
  { key: 'prod.deploymentWindows.cron', valid: validWindowCron, hostile: windowCron },
  { key: 'prod.deploymentWindows.timeZone', valid: timeZone, hostile: hostileTimeZone },
  {
    key: 'prod.changeReport',
    valid: fc.record({ blockOn: fc.subarray([...CHANGE_REPORT_FINDINGS]) }),
    hostile: anyHostile,
  },
  {
    key: 'prod.changeReport.blockOn',
    valid: fc.subarray([...CHANGE_REPORT_FINDINGS]),
    hostile: fc.array(
      fc.oneof(
        fc.constantFrom<Json>(...CHANGE_REPORT_FINDINGS),
        token('replacements', 'IAM', '', 'Replacement', null, 1),
      ),
      { maxLength: 5 },
    ),
  },
  {
    key: 'notifications',
    valid: fc.record({ emails: fc.array(email, { maxLength: 3 }) }),
    hostile: anyHostile,
  },
  {
    key: 'notifications.emails',
    valid: fc.oneof(
      fc.uniqueArray(email, { maxLength: 5, selector: (e) => e.toLowerCase() }),
      // at the edge: as many as fit the pipeline stack of the base config
      fc
        .constantFrom(440, 441)
        .map((n) => Array.from({ length: n }, (_, i) => `oncall-${i}@example.com`)),
    ),
    hostile: fc.oneof(
      fc.array(fc.oneof(email, hostileEmail), { maxLength: 6 }),
      fc
        .constantFrom(600, 460)
        .map((n) => Array.from({ length: n }, (_, i) => `oncall-${i}@example.com`)),
    ),
  },
  {
    key: 'notifications.chatbotSlackChannelArns',
    valid: fc.array(chatbotArn(['aws']), { maxLength: 2 }),
    hostile: fc.array(
      fc.oneof(
        chatbotArn(['aws', 'aws-cn', 'aws-us-gov', 'aws-iso']),
        token('arn:aws:sns:eu-west-1:111111111111:t'),
      ),
      { maxLength: 3 },
    ),
  },
];

const ENV_KEYS: KeySpec[] = [
  { key: 'environment.account', valid: account, hostile: token('12345', 'abcdefghijkl') },
  { key: 'environment.region', valid: region, hostile: anyRegion },
  { key: 'environment.name', valid: stageName, hostile: hostileStageName },
  {
    key: 'environment.availabilityZones',
    valid: token(['{region}a', '{region}b', '{region}c'], ['{region}a', '{region}c']),
    hostile: fc.array(token('{region}a', '{region}a', '{region}z', 'us-east-1a', '{region}'), {
      maxLength: 7,
    }),
  },
  { key: 'environment.natGateways', valid: num(1, 2), hostile: num(-1, 7) },
  {
    key: 'environment.vpcCidr',
    valid: token('10.0.0.0/16', '10.1.0.0/17', '172.16.0.0/16'),
    hostile: cidr,
  },
  {
    key: 'environment.kubernetesVersion',
    valid: token('1.35'),
    hostile: token('1.29', '1.36', '1', ''),
  },
  {
    key: 'environment.endpointPublicCidrs',
    valid: fc.array(token('203.0.113.0/24', '198.51.100.7/32'), { maxLength: 2 }),
    hostile: fc.array(fc.oneof(cidr, token('203.0.113.0/24')), { maxLength: 45 }),
  },
  {
    key: 'environment.operatorRoleArn',
    valid: account.map((a) => `arn:aws:iam::${a}:role/OnCall`),
    hostile: token('arn:aws:iam::1:role/x', 'arn:aws:iam::111111111111:user/x', 'OnCall'),
  },
  {
    key: 'environment.nodes',
    valid: fc.record({ min: num(2, 3), desired: fc.constant(3), max: num(3, 9) }),
    hostile: anyHostile,
  },
  {
    key: 'environment.nodes.instanceType',
    valid: token('m7g.large', 'c7g.xlarge', 't4g.medium'),
    hostile: token('m5.large', 'x', 'M7G.LARGE', 'm7g.'),
  },
  { key: 'environment.nodes.min', valid: num(1, 3), hostile: num(-1, 500) },
  { key: 'environment.nodes.desired', valid: num(3, 9), hostile: num(-1, 500) },
  { key: 'environment.nodes.max', valid: num(9, 450), hostile: num(-1, 2 ** 31) },
  { key: 'environment.nodes.diskSizeGiB', valid: num(20, 16384), hostile: num(-1, 20_000) },
  {
    key: 'environment.replicas',
    valid: fc.record({ min: num(2, 3), max: num(3, 12) }),
    hostile: anyHostile,
  },
  { key: 'environment.replicas.min', valid: num(2, 3), hostile: num(-1, 2 ** 31) },
  {
    key: 'environment.replicas.max',
    valid: num(3, 990),
    hostile: fc.oneof(num(-1, 100_000), token(2 ** 31)),
  },
  { key: 'environment.replicas.targetCpuPercent', valid: num(10, 95), hostile: num(-1, 200) },
  {
    key: 'environment.certificateArn',
    valid: token('arn:aws:acm:{region}:222222222222:certificate/0123abcd-4567'),
    hostile: token(
      'arn:aws:acm:us-east-9:222222222222:certificate/x',
      'arn:aws:acm:eu-west-1:222222222222:certificate/0123',
    ),
  },
  {
    key: 'environment.tlsHostName',
    valid: token('hello.example.com'),
    hostile: token('*.example.com', 'HELLO.example.com', 'x', 'a.'),
  },
  { key: 'environment.httpWithTls', valid: fc.boolean(), hostile: token('false', 0) },
  {
    key: 'environment.greeting',
    valid: token('Hello', 'Grüß dich 👋', 'x'.repeat(64)),
    hostile: greeting,
  },
  { key: 'environment.logRetentionDays', valid: num(1, 3653), hostile: num(-1, 5000) },
  {
    key: 'environment.patching',
    valid: fc.record({ approveAfterDays: num(0, 360) }),
    hostile: anyHostile,
  },
  { key: 'environment.patching.approveAfterDays', valid: num(0, 360), hostile: num(-1, 400) },
  { key: 'environment.patching.scanSchedule', valid: validScanSchedule, hostile: scanSchedule },
  { key: 'environment.bake', valid: fc.record({ minutes: num(30, 120) }), hostile: anyHostile },
  { key: 'environment.bake.minutes', valid: num(30, 1440), hostile: num(-1, 2000) },
  {
    key: 'environment.bake.errorRatePercent',
    valid: fc.double({ min: 0.01, max: 100, noNaN: true }),
    hostile: fc.double(),
  },
  { key: 'environment.bake.p99LatencyMs', valid: num(1, 60_000), hostile: num(-1, 100_000) },
  { key: 'environment.bake.periodSeconds', valid: token(60, 120), hostile: num(0, 4000) },
  { key: 'environment.bake.evaluationPeriods', valid: num(1, 5), hostile: num(-1, 70) },
  { key: 'environment.bake.alarmRule', valid: fc.boolean(), hostile: token('false', 0) },
  {
    key: 'environment.breakglassCheck',
    valid: fc.record({ kmsTableUpgrade: fc.boolean() }),
    hostile: anyHostile,
  },
  {
    key: 'environment.breakglassCheck.kmsTableUpgrade',
    valid: fc.boolean(),
    hostile: token('true', 1),
  },
];
const KEYS = [...ROOT_KEYS, ...ENV_KEYS];

// ---------------------------------------------------------------------------------------------
// Configurations: a valid base with some keys set to generated values, written as JSON.parse
// would (so "__proto__" is an own key, not the prototype).

const BASES: DeliveryConfigInput[] = [
  STACK_ENVIRONMENTS,
  exampleMultiRegion as DeliveryConfigInput,
  {
    ...STACK_ENVIRONMENTS,
    source: { provider: 'GitHub', connectionArn: CONNECTION, repository: 'my-org/hello-web' },
    image: { scanning: 'BASIC' },
    prod: {
      waves: [[{ account: '333333333333', region: 'eu-west-1', name: 'prod-wave-1' }]],
      deploymentWindows: [{ wave: 1, cron: '* * 9-16 ? * MON-THU', timeZone: 'Europe/Dublin' }],
    },
  },
];

interface Mutation {
  readonly key: string;
  readonly value: Json;
  /** Which environment (for environment keys) or which list entry, modulo how many there are. */
  readonly pick: number;
}

const isPlain = (v: Json): v is Plain => v !== null && typeof v === 'object' && !Array.isArray(v);
const setOwn = (o: Plain, k: string, v: Json) =>
  Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });

function apply(base: DeliveryConfigInput, mutations: readonly Mutation[]): Json {
  const cfg = JSON.parse(JSON.stringify(base)) as Plain;
  for (const { key, value, pick } of mutations) {
    const parts = key.split('.');
    let target: Json = cfg;
    let rest = parts;
    let region = 'eu-west-1';
    if (parts[0] === 'environment') {
      const prod = isPlain(cfg.prod) ? cfg.prod : {};
      const waves: Json[] = Array.isArray(prod.waves) ? (prod.waves as Json[]).flat() : [];
      const envs = [cfg.preprod, ...waves].filter(isPlain);
      if (envs.length === 0) continue;
      target = envs[pick % envs.length];
      region =
        typeof (target as Plain).region === 'string'
          ? ((target as Plain).region as string)
          : region;
      rest = parts.slice(1);
    }
    for (const part of rest.slice(0, -1)) {
      if (!isPlain(target)) break;
      let next = target[part];
      if (Array.isArray(next)) next = next.length > 0 ? next[pick % next.length] : undefined;
      if (next === undefined) {
        next = {};
        setOwn(target, part, part === 'deploymentWindows' ? [next] : next);
      }
      target = next;
    }
    if (!isPlain(target)) continue;
    const resolved = JSON.parse(
      JSON.stringify(value ?? null).replaceAll('{region}', region),
    ) as Json;
    setOwn(
      target,
      rest[rest.length - 1],
      value === undefined ? undefined : typeof value === 'number' ? value : resolved,
    );
  }
  return cfg;
}

/** An unknown key somewhere: a typo must be refused, never ignored. */
const unknownKey = fc.record({
  key: fc.constantFrom(
    'pipeline.x',
    'environment.replica',
    'environment.nodes.maximum',
    'prod.wave',
    'notifications.email',
    'environment.__proto__',
    'environment.constructor',
    'image.toString',
  ),
  value: anyHostile,
  pick: fc.nat(),
});

const mutation = (hostile: boolean) =>
  fc.oneof(
    ...KEYS.map((spec) =>
      fc.record({
        key: fc.constant(spec.key),
        value: hostile ? fc.oneof(spec.valid, spec.hostile, anyHostile) : spec.valid,
        pick: fc.nat(),
      }),
    ),
  );

const hostileConfig = fc
  .tuple(
    fc.constantFrom(...BASES),
    fc.array(
      fc.oneof({ weight: 9, arbitrary: mutation(true) }, { weight: 1, arbitrary: unknownKey }),
      {
        minLength: 1,
        maxLength: 4,
      },
    ),
  )
  .map(([base, mutations]) => ({ base, mutations, config: apply(base, mutations) }));

const plausibleConfig = fc
  .tuple(fc.constantFrom(...BASES), fc.array(mutation(false), { minLength: 1, maxLength: 5 }))
  .map(([base, mutations]) => ({ base, mutations, config: apply(base, mutations) }));

/** What validation said: the problems, or undefined when it accepted the configuration. */
function verdict(config: Json): readonly { path: string; message: string }[] | undefined {
  try {
    validateConfig(config);
    return undefined;
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e; // anything else is a crash of validation itself
  }
}

// ---------------------------------------------------------------------------------------------

describe('config fuzz: every value is refused by validation or synthesizes', () => {
  test('the fuzz feeds every key of the schema (a new key needs its values here)', () => {
    const keys = new Set<string>();
    const walk = (schema: z.ZodType, at: string): void => {
      if (schema instanceof z.ZodOptional) return walk(schema.unwrap() as z.ZodType, at);
      if (schema instanceof z.ZodArray) return walk(schema.element as z.ZodType, at);
      if (schema instanceof z.ZodDiscriminatedUnion || schema instanceof z.ZodUnion) {
        for (const option of schema.options) walk(option as z.ZodType, at);
        return;
      }
      if (schema instanceof z.ZodObject) {
        const shape: Record<string, z.ZodType> = schema.shape;
        for (const [k, v] of Object.entries(shape)) {
          const key = `${at}${k}`.replace(/^(preprod|prod\.waves)\./, 'environment.');
          keys.add(key);
          walk(v, `${key}.`);
        }
      }
    };
    walk(deliveryConfigSchema, '');
    const fed = new Set(KEYS.map((k) => k.key));
    expect([...keys].filter((k) => !fed.has(k)).sort()).toEqual([]);
    expect([...fed].filter((k) => !keys.has(k)).sort()).toEqual([]);
  });

  test(`validation never crashes and names a path and a message for each problem (${RUNS} configurations)`, () => {
    let refused = 0;
    fc.assert(
      fc.property(hostileConfig, ({ config }) => {
        const problems = verdict(config);
        if (problems === undefined) return;
        refused++;
        expect(problems.length).toBeGreaterThan(0);
        for (const p of problems) {
          expect(p.path).toMatch(/^(\(root\)|config|[A-Za-z_$][\w$]*)([.[].*)?$/);
          expect(p.message.length).toBeGreaterThan(0);
          expect(p.message.length).toBeLessThan(2000); // never a 10,000-character value echoed back
          expect(p.message).not.toMatch(/\n\s+at /); // no stack trace
        }
      }),
      { seed: SEED, numRuns: RUNS },
    );
    // Most hostile configurations are refused; some are accepted (a plausible value drawn).
    expect(refused).toBeGreaterThan(RUNS / 2);
  });

  test(`configurations validation accepts synthesize (${SYNTH_RUNS} synths)`, () => {
    const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'cdk-fuzz-'));
    let synths = 0;
    try {
      fc.assert(
        fc.property(fc.oneof(plausibleConfig, hostileConfig), ({ config, mutations }) => {
          const problems = verdict(config);
          fc.pre(problems === undefined);
          synths++;
          const resolved = validateConfig(config);
          const dir = fs.mkdtempSync(path.join(outdir, 'run-'));
          try {
            const { app, pipelineStack } = buildApp({
              config: resolved,
              repoRoot: REPO_ROOT,
              appProps: { outdir: dir, context: CDK_JSON_CONTEXT },
              nag: false,
            });
            const assembly = app.synth();
            expect({ mutations, errors: errorsOf(assembly) }).toEqual({ mutations, errors: [] });
            const template = JSON.parse(
              fs.readFileSync(path.join(dir, pipelineStack.templateFile), 'utf8'),
            ) as { Resources: Record<string, unknown> };
            const estimate = pipelineStackResourceEstimate(
              allEnvironments(resolved).length,
              resolved.notifications.emails.length,
            );
            expect(Object.keys(template.Resources).length).toBeLessThanOrEqual(estimate);
          } finally {
            fs.rmSync(dir, { recursive: true, force: true });
          }
        }),
        // A synth takes seconds: no shrinking (each step would synthesize again); the failing
        // configuration and its mutations are in the report, with the seed to replay it.
        { seed: SEED, numRuns: SYNTH_RUNS, endOnFailure: true },
      );
    } finally {
      fs.rmSync(outdir, { recursive: true, force: true });
    }
    expect(synths).toBe(SYNTH_RUNS);
  });
});

/** Error annotations anywhere in the cloud assembly: `cdk synth` fails on them. */
function errorsOf(assembly: cxapi.CloudAssembly): string[] {
  const errors: string[] = [];
  for (const stack of assembly.stacksRecursively)
    for (const m of stack.messages)
      if (m.level === cxapi.SynthesisMessageLevel.ERROR)
        errors.push(`${m.id}: ${JSON.stringify(m.entry.data)}`);
  return errors;
}
