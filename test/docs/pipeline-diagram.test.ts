import * as fs from 'node:fs';
import { DEFAULT_SERVICE, STACK_ENVIRONMENTS, environmentNames } from '../../lib/config';
import { type CfnTemplateJson, DIAGRAM_FILE, readPipelineStages, renderPipelineDiagram, renderPipelineDiagramDoc, synthesizePipelineTemplate } from '../../tools/dev/diagram';

// docs/pipeline-diagram.md is generated from the synthesized pipeline; these tests keep it honest.
let template: CfnTemplateJson;
beforeAll(() => {
  template = synthesizePipelineTemplate();
});

test('docs/pipeline-diagram.md matches the synthesized pipeline (run npm run diagram)', () => {
  const committed = fs.readFileSync(DIAGRAM_FILE, 'utf8');
  const current = renderPipelineDiagramDoc(template);
  if (committed !== current) {
    throw new Error('docs/pipeline-diagram.md is stale: run npm run diagram (and commit docs/pipeline-diagram.md)');
  }
});

test('every stage appears in pipeline order, with rollback and the manual approval marked', () => {
  const diagram = renderPipelineDiagram(template);
  const stages = readPipelineStages(template);
  const positions = stages.map((s) => diagram.indexOf(`["${s.name}`));
  expect(positions.every((p) => p > 0)).toBe(true);
  expect([...positions].sort((a, b) => a - b)).toEqual(positions);
  for (const s of stages.filter((st) => st.onFailure === 'ROLLBACK')) expect(diagram).toContain(`["${s.name} · OnFailure: ROLLBACK"]`);
  expect(diagram).toMatch(/\{\{"ApproveProd<br\/>manual approval"\}\}/);
  // The CodeCommit action's name is an Fn::GetAtt in the template; it is drawn by provider.
  expect(diagram).toContain('["CodeCommit<br/>source, branch main"]');
  // No asset hashes or logical-id suffixes leak into the doc.
  expect(diagram).not.toMatch(/[0-9a-f]{16}|[0-9A-F]{8}\b/);
});

test('every deploy stage ends with its bake: each region\'s bake time, then its alarm check with a grace period, rolled back on alarm', () => {
  const diagram = renderPipelineDiagram(template);
  const alarm = (stage: string) => environmentNames(DEFAULT_SERVICE.name, stage).bakeAlarm;
  expect(diagram).toContain(`${alarm('preprod-eu-west-1')} (eu-west-1), 3 min grace<br/>OnSuccess: ROLLBACK on alarm`);
  expect(diagram).toContain(`${alarm('prod-ap-southeast-2')} (ap-southeast-2), 5 min grace`);
  expect(diagram).toContain(`${alarm('prod-us-east-1')} (us-east-1), 5 min grace`);
  expect(diagram).toContain('SmokeAndBake-prod-us-east-1<br/>CodeBuild, bake 30 min');
  // The smoke test and bake action follows the deploy, and the OnSuccess check comes last.
  const preprod = /subgraph (s\d+)\["preprod-eu-west-1 /.exec(diagram)![1];
  const bake = new RegExp(`${preprod}a(\\d+)\\["SmokeAndBake-preprod-eu-west-1<br/>CodeBuild, bake 10 min"\\]`).exec(diagram);
  expect(bake).not.toBeNull();
  expect(diagram).toContain(`${preprod}a${bake![1]} --> ${preprod}k`);
});

test('a prod wave with a deployment window starts with it', () => {
  const withWindow = { ...STACK_ENVIRONMENTS, prod: { ...STACK_ENVIRONMENTS.prod, deploymentWindows: [{ wave: 2, cron: '* * 9-16 ? * MON-THU', timeZone: 'Europe/Dublin' }] } };
  const diagram = renderPipelineDiagram(synthesizePipelineTemplate(withWindow));
  expect(diagram).toContain('window * * 9-16 ? * MON-THU (Europe/Dublin)<br/>BeforeEntry: FAIL outside');
  const wave = /subgraph (s\d+)\["prod-wave-2 /.exec(diagram)![1];
  expect(diagram).toContain(`${wave}w --> ${wave}r0`);
  expect(renderPipelineDiagram(template)).not.toContain('BeforeEntry');
});

test('a wave of several regions is drawn as parallel actions per runOrder', () => {
  const diagram = renderPipelineDiagram(template);
  expect(diagram).toMatch(/subgraph s\d+\["PromoteToProd"\][^]*"ImageGate-prod<br\/>CodeBuild"[^]*"ApproveProd<br\/>manual approval"/);
  expect(diagram).toMatch(/subgraph s\d+\["prod-wave-2 · OnFailure: ROLLBACK"\][^]*subgraph s\d+r0\["runOrder 1: 2 in parallel"\][^]*prod-us-east-1\.hello-web-prod-us-east-1\.Deploy/);
});

test('the diagram changes when the pipeline changes (an extra prod wave appears as a new stage)', () => {
  const extraWave = {
    ...STACK_ENVIRONMENTS,
    prod: {
      waves: [
        ...STACK_ENVIRONMENTS.prod.waves,
        [
          { account: '333333333333', region: 'eu-central-1' },
          { account: '333333333333', region: 'us-west-2' },
        ],
      ],
    },
  };
  const changed = renderPipelineDiagramDoc(synthesizePipelineTemplate(extraWave));
  expect(changed).not.toEqual(renderPipelineDiagramDoc(template));
  expect(changed).toContain('["prod-wave-3 · OnFailure: ROLLBACK"]');
  expect(changed).toContain('prod-eu-central-1.hello-web-prod-eu-central-1.Deploy');
  expect(changed).toContain('"prod-us-west-2.SmokeAndBake-prod-us-west-2<br/>CodeBuild, bake 30 min"');
  expect(renderPipelineDiagram(template)).not.toContain('prod-wave-3');
});
