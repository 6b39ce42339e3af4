import { type DeliveryConfigInput, STACK_ENVIRONMENTS } from '../../lib/config';
import {
  PIPELINE_STACK_RESOURCES,
  pipelineStackResourceEstimate,
} from '../../lib/config/pipeline-shape';
import { synthesize } from '../support/synth';

// Validation keeps the pipeline stack within CloudFormation's 500 resources by counting what the
// configuration adds (lib/config/pipeline-shape.ts). The counts come from here: synthesized
// pipelines, so that a resource added to the pipeline stack fails this test until the numbers
// follow it.

const base = (): DeliveryConfigInput =>
  JSON.parse(JSON.stringify(STACK_ENVIRONMENTS)) as DeliveryConfigInput;
const resourcesOf = (config: DeliveryConfigInput) =>
  Object.keys(
    (synthesize({ config }).pipeline.toJSON() as { Resources: Record<string, unknown> }).Resources,
  ).length;

test('with every optional resource (CodeCommit created, ENHANCED scanning, replicas), the count is exact', () => {
  const wider = base();
  wider.prod.waves.push([
    { account: '444444444444', region: 'eu-central-1' },
    { account: '444444444444', region: 'eu-north-1' },
  ]);
  wider.notifications = { emails: ['a@example.com', 'b@example.com', 'c@example.com'] };
  const counts = {
    default: resourcesOf(base()),
    wider: resourcesOf(wider),
  };
  expect(counts).toEqual({
    default: pipelineStackResourceEstimate(4, 0),
    wider: pipelineStackResourceEstimate(6, 3),
  });
  expect(PIPELINE_STACK_RESOURCES.perEnvironment).toBe((counts.wider - counts.default - 3) / 2);
});

test('without the optional resources the estimate is an upper bound', () => {
  const lean: DeliveryConfigInput = {
    pipeline: { account: '111111111111', region: 'eu-west-1' },
    source: {
      provider: 'GitHub',
      connectionArn:
        'arn:aws:codeconnections:eu-west-1:111111111111:connection/0123abcd-0123-4567-89ab-0123456789ab',
      repository: 'my-org/hello-web',
    },
    image: { scanning: 'BASIC' },
    preprod: { account: '222222222222', region: 'eu-west-1' },
    prod: { waves: [[{ account: '333333333333', region: 'eu-west-1' }]] },
  };
  const count = resourcesOf(lean);
  expect(count).toBeLessThan(pipelineStackResourceEstimate(2, 0));
  expect(count).toBeGreaterThan(pipelineStackResourceEstimate(2, 0) - 10);
});
