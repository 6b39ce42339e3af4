import * as fs from 'node:fs';
import * as path from 'node:path';
import { type DeliveryConfigInput, validateConfig } from '../../lib/config';
import {
  CLOUDFORMATION_MAX_RESOURCES,
  pipelineStackResourceEstimate,
} from '../../lib/config/pipeline-shape';
import { buildApp } from '../../lib/app';
import { CDK_JSON_CONTEXT, REPO_ROOT, synthesize } from '../support/synth';
import { defaultConfig, problems } from '../support/config';

// `notifications`: every email address becomes one AWS::SNS::Subscription in the pipeline stack,
// whose construct id is the address itself (aws-cdk-lib's EmailSubscription); Chatbot channels
// are targets of the pipeline's notification rule. Values that crashed the synth or that AWS
// refuses at deploy are validation problems at their path.

const base = defaultConfig;
const withEmails = (emails: unknown[]): DeliveryConfigInput =>
  ({ ...base(), notifications: { emails } }) as DeliveryConfigInput;
const addresses = (n: number) => Array.from({ length: n }, (_, i) => `oncall-${i}@example.com`);

describe('email addresses', () => {
  test('the same address twice is refused at the second (it crashed the synth: SubscriptionAlreadyExists)', () => {
    expect(problems(withEmails(['a@example.com', 'b@example.com', 'a@example.com']))).toEqual([
      'notifications.emails[2]: "a@example.com" is already at notifications.emails[0]; list each address once',
    ]);
  });

  test('addresses that differ only in case are the same mailbox', () => {
    expect(problems(withEmails(['OnCall@Example.com', 'oncall@example.com']))).toEqual([
      expect.stringMatching(
        /^notifications\.emails\[1\]: "oncall@example\.com" is already at notifications\.emails\[0\] \(addresses are compared ignoring case\)/,
      ),
    ]);
  });

  // RFC 5321 section 4.5.3.1: a local part of at most 64 octets, a path of at most 256 octets
  // including the angle brackets, so an address of at most 254
  // (https://www.rfc-editor.org/rfc/rfc5321#section-4.5.3.1); the dot-atom of RFC 5322 section
  // 3.2.3 has no empty part, so no leading, trailing or consecutive dots
  // (https://www.rfc-editor.org/rfc/rfc5322#section-3.2.3).
  test.each([
    [
      'a 300-character address',
      `${'a'.repeat(60)}@${'b'.repeat(230)}.example.com`,
      /at most 254 characters, got 303/,
    ],
    [
      'a local part of 65 characters',
      `${'a'.repeat(65)}@example.com`,
      /the part before "@" may be at most 64 characters, got 65/,
    ],
    [
      'two dots in a row',
      'a..b@example.com',
      /must be an email address such as "oncall@example\.com"/,
    ],
    ['a leading dot', '.a@example.com', /must be an email address/],
    [
      'a domain label of 64 characters',
      `a@${'b'.repeat(64)}.example.com`,
      /each part of the domain may be at most 63 characters/,
    ],
    ['no domain', 'oncall@', /must be an email address/],
    ['a space', 'on call@example.com', /must be an email address/],
  ])('%s is refused at its path', (_name, address, expected) => {
    const found = problems(withEmails(['ok@example.com', address]));
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(/^notifications\.emails\[1\]: /);
    expect(found[0]).toMatch(expected);
  });

  test('addresses at the limits are accepted', () => {
    const local64 = `${'a'.repeat(64)}@example.com`;
    const total254 = `${'a'.repeat(64)}@${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(57)}.com`;
    expect(total254).toHaveLength(254);
    expect(problems(withEmails([local64, total254, 'first.last+tag@sub.example.co.uk']))).toEqual(
      [],
    );
  });
});

describe('as many addresses as fit the pipeline stack, and not one more', () => {
  // CloudFormation: at most 500 resources in one template
  // (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html);
  // aws-cdk-lib enforces the same number at synth (@aws-cdk/core:stackResourceLimit).
  const environments = 4; // STACK_ENVIRONMENTS: pre-prod and three prod regions
  const others = () => pipelineStackResourceEstimate(environments, 0);

  test('600 addresses are refused with the number that fits, before anything is built', () => {
    const largest = CLOUDFORMATION_MAX_RESOURCES - others();
    expect(problems(withEmails(addresses(600)))).toEqual([
      `notifications.emails: 600 addresses need 600 subscriptions in the pipeline stack, which with its ${others()} other resources for ${environments} environments exceeds CloudFormation's ${CLOUDFORMATION_MAX_RESOURCES} resources per stack; at most ${largest} fit: subscribe a distribution list instead`,
    ]);
  });

  test('the largest accepted count synthesizes within the limit; one more is what CloudFormation refuses', () => {
    const largest = CLOUDFORMATION_MAX_RESOURCES - others();
    expect(problems(withEmails(addresses(largest)))).toEqual([]);
    const s = synthesize({ config: withEmails(addresses(largest)) });
    const resources = Object.keys(
      (s.pipeline.toJSON() as { Resources: Record<string, unknown> }).Resources,
    ).length;
    expect(resources).toBeLessThanOrEqual(CLOUDFORMATION_MAX_RESOURCES);

    // One more, past validation (as the old code let it): aws-cdk-lib's own check refuses the stack.
    expect(problems(withEmails(addresses(largest + 1)))).toEqual([
      expect.stringMatching(/^notifications\.emails: /),
    ]);
    const config = validateConfig(base());
    const overfull = {
      ...config,
      notifications: { ...config.notifications, emails: addresses(largest + 1) },
    };
    const outdir = fs.mkdtempSync(path.join(REPO_ROOT, 'cdk.out.test-'));
    try {
      expect(() =>
        buildApp({
          config: overfull,
          repoRoot: REPO_ROOT,
          appProps: { outdir, context: CDK_JSON_CONTEXT },
          nag: false,
        }).app.synth(),
      ).toThrow(/Number of resources in stack .* is greater than allowed maximum of 500/);
    } finally {
      fs.rmSync(outdir, { recursive: true, force: true });
    }
  });
});

describe('Chatbot channels live in the pipeline partition', () => {
  const slack = (partition: string) =>
    `arn:${partition}:chatbot::111111111111:chat-configuration/slack-channel/deploys`;

  test.each([
    ['aws-cn', 'eu-west-1', 'aws'],
    ['aws', 'us-gov-west-1', 'aws-us-gov'],
    ['aws-us-gov', 'eu-west-1', 'aws'],
  ])('a channel in %s for a pipeline in %s is refused', (partition, region, pipelinePartition) => {
    const cfg = {
      ...base(),
      pipeline: { account: '111111111111', region },
      preprod: { account: '222222222222', region },
      prod: { waves: [[{ account: '333333333333', region }]] },
      notifications: { chatbotSlackChannelArns: [slack(pipelinePartition), slack(partition)] },
    } as DeliveryConfigInput;
    expect(problems(cfg)).toEqual([
      `notifications.chatbotSlackChannelArns[1]: the channel configuration is in partition "${partition}", but the pipeline (pipeline.region "${region}") is in "${pipelinePartition}"; a notification rule can only target a channel of its own partition`,
    ]);
  });

  test('a channel in the pipeline partition is accepted', () => {
    expect(
      problems({ ...base(), notifications: { chatbotSlackChannelArns: [slack('aws')] } }),
    ).toEqual([]);
  });
});

test('docs/configuration.md states the email rules and the number that fits by default', () => {
  const doc = fs.readFileSync(path.join(REPO_ROOT, 'docs', 'configuration.md'), 'utf8');
  const row = doc.split('\n').find((l) => l.startsWith('| `emails` |')) ?? '';
  expect(row).toMatch(
    /once \(compared ignoring case\), at most 254 characters.*CloudFormation limits to 500/,
  );
  const largest = CLOUDFORMATION_MAX_RESOURCES - pipelineStackResourceEstimate(4, 0);
  expect(row).toContain(`with the default four environments at most ${largest} addresses fit`);
});
