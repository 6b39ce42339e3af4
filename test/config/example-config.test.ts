import * as fs from 'node:fs';
import * as path from 'node:path';
import { type DeliveryConfigInput, allEnvironments } from '../../lib/config';
import { REPO_ROOT, type Synthesized, pipelineStages, synthesize } from '../support/synth';

/** The documented multi-account example (docs/configuration.md): 6 prod regions in 3 waves. */
let s: Synthesized;
beforeAll(() => {
  const raw = JSON.parse(
    fs.readFileSync(path.join(REPO_ROOT, 'config', 'example-multi-region.json'), 'utf8'),
  ) as DeliveryConfigInput;
  s = synthesize({ config: raw });
});

test('synthesizes pre-prod and all six prod regions, wave by wave', () => {
  expect(Object.keys(s.stages)).toHaveLength(7);
  expect(
    pipelineStages(s.pipeline)
      .map((st) => st.name)
      .slice(6),
  ).toEqual([
    'ImageGate-preprod-eu-west-1',
    'preprod-eu-west-1',
    'PromoteToProd',
    'prod-eu-west-1',
    'prod-wave-2',
    'prod-wave-3',
  ]);
  const wave3 = pipelineStages(s.pipeline).find((st) => st.name === 'prod-wave-3')!;
  expect(wave3.actions.filter((a) => a.name.endsWith('.Deploy'))).toHaveLength(3);
  expect(wave3.onFailure).toEqual({ Result: 'ROLLBACK' });
});

test('each stage uses its own account, region and zones; the image is replicated to each region', () => {
  const subnetAzs = (name: string) =>
    [
      ...new Set(
        Object.values(s.stages[name].findResources('AWS::EC2::Subnet')).map(
          (r) => (r as { Properties: { AvailabilityZone: string } }).Properties.AvailabilityZone,
        ),
      ),
    ].sort();
  expect(subnetAzs('prod-ap-northeast-1')).toEqual([
    'ap-northeast-1a',
    'ap-northeast-1c',
    'ap-northeast-1d',
  ]);
  const stack = (name: string) =>
    (
      s.pipelineStack.node.findChild(name) as unknown as {
        stack: { account: string; region: string };
      }
    ).stack;
  expect([stack('prod-us-west-2').account, stack('prod-us-west-2').region]).toEqual([
    '444444444444',
    'us-west-2',
  ]);
  const regions = JSON.stringify(s.pipeline.findResources('AWS::ECR::ReplicationConfiguration'));
  for (const r of ['eu-central-1', 'us-east-1', 'us-west-2', 'ap-southeast-2', 'ap-northeast-1'])
    expect(regions).toContain(r);
});

test("the pipeline's own synth step synthesizes with the same config file", () => {
  expect(s.config.configFile).toBeUndefined(); // loaded in-process here; the CLI path is covered in test/bin
  expect(JSON.stringify(s.pipeline.toJSON())).toContain('--fail-on HIGH');
});

test("each environment's pipelineStageName, which the rollback command resolves, is a stage of this pipeline", () => {
  const names = pipelineStages(s.pipeline).map((st) => st.name);
  expect(
    allEnvironments(s.config)
      .map((e) => [e.stageName, e.pipelineStageName])
      .filter(([, p]) => !names.includes(p)),
  ).toEqual([]);
  expect(new Set(allEnvironments(s.config).map((e) => e.pipelineStageName))).toEqual(
    new Set(['preprod-eu-west-1', 'prod-eu-west-1', 'prod-wave-2', 'prod-wave-3']),
  );
});
