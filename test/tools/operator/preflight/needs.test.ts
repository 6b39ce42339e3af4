import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { validateConfig, STACK_ENVIRONMENTS } from '../../../../lib/config';
import {
  type DeploymentNeeds,
  cliBootstrapVersion,
  readDeploymentNeeds,
  synthesizeNeeds,
} from '../../../../tools/operator/preflight/needs';
import { REPO_ROOT } from '../../../support/paths';
import { NEEDS } from './fixtures';

/** The needs come from a real synth of the default configuration (once for this file). */
let needs: DeploymentNeeds;
beforeAll(() => {
  needs = synthesizeNeeds(validateConfig(STACK_ENVIRONMENTS), REPO_ROOT);
});

test('every account/region a stack deploys to: the stages, and the pipeline account in each stage region (support stacks, image replicas)', () => {
  expect(needs.bootstrapTargets).toEqual(NEEDS.bootstrapTargets);
});

test('the bootstrap version is the highest the synthesized stacks declare (the lookup role needs 8)', () => {
  expect(needs.requiredBootstrapVersion).toBe(NEEDS.requiredBootstrapVersion);
});

test('the widest stage is PromoteToProd: the prod gate, the change report and the breakglass check run at once', () => {
  // three builds side by side before the approval; the two-region wave runs two
  expect(needs.parallelBuilds).toEqual({ count: 3, stage: 'PromoteToProd' });
});

test('the registry-wide ECR settings deploying would set, per registry, read from the synthesized templates', () => {
  expect(needs.registries).toEqual(NEEDS.registries);
});

test('a registry setting the preflight cannot read is an error, not a guess', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'registry-assembly-'));
  fs.writeFileSync(
    path.join(dir, 'manifest.json'),
    JSON.stringify({
      version: '1',
      artifacts: {
        S: {
          type: 'aws:cloudformation:stack',
          environment: 'aws://111111111111/eu-west-1',
          properties: { templateFile: 'S.template.json' },
        },
      },
    }),
  );
  fs.writeFileSync(
    path.join(dir, 'S.template.json'),
    JSON.stringify({
      Resources: {
        R: {
          Type: 'AWS::ECR::ReplicationConfiguration',
          Properties: {
            ReplicationConfiguration: {
              Rules: [
                {
                  Destinations: [{ Region: { 'Fn::ImportValue': 'x' }, RegistryId: '1' }],
                  RepositoryFilters: [],
                },
              ],
            },
          },
        },
      },
    }),
  );
  expect(() => readDeploymentNeeds(dir)).toThrow(
    /S\.template\.json: R \(AWS::ECR::ReplicationConfiguration\).*Region/,
  );
});

test("the CLI's bootstrap template version is read from the pinned aws-cdk", () => {
  expect(needs.latestBootstrapVersion).toBe(cliBootstrapVersion());
  expect(cliBootstrapVersion()).toBeGreaterThanOrEqual(needs.requiredBootstrapVersion);
});

test('an assembly without a deployable stack is an error, not an empty plan', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'empty-assembly-'));
  fs.writeFileSync(
    path.join(dir, 'manifest.json'),
    JSON.stringify({ version: '1', artifacts: {} }),
  );
  expect(() => readDeploymentNeeds(dir)).toThrow(/no stack with an account and region/);
});
