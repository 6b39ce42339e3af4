import * as fs from 'node:fs';
import * as path from 'node:path';
import { DefaultStackSynthesizer } from 'aws-cdk-lib';
import { parse } from 'yaml';
import { BOOTSTRAP_QUALIFIER, bootstrapRoleName } from '../../lib/config/bootstrap';

// The bootstrap role names the pipeline and preflight rely on are the ones `cdk bootstrap` creates:
// read from the bootstrap template of the pinned aws-cdk CLI, not retyped.
const template = parse(
  fs.readFileSync(
    path.join(
      path.dirname(require.resolve('aws-cdk/package.json')),
      'lib/api/bootstrap/bootstrap-template.yaml',
    ),
    'utf8',
  ),
) as {
  Parameters: { Qualifier: { Default: string } };
  Resources: Record<string, { Properties: { RoleName?: { 'Fn::Sub': string } } }>;
};

test('the qualifier is the default synthesizer’s and the bootstrap template’s default', () => {
  expect(BOOTSTRAP_QUALIFIER).toBe(DefaultStackSynthesizer.DEFAULT_QUALIFIER);
  expect(BOOTSTRAP_QUALIFIER).toBe(template.Parameters.Qualifier.Default);
});

test.each([
  ['deploy', 'DeploymentActionRole'],
  ['lookup', 'LookupRole'],
] as const)('the %s role is named as the bootstrap template names it', (kind, resource) => {
  const sub = template.Resources[resource].Properties.RoleName?.['Fn::Sub'];
  expect(sub).toBeDefined();
  const expected = sub!
    .replace('${Qualifier}', BOOTSTRAP_QUALIFIER)
    .replace('${AWS::AccountId}', '222222222222')
    .replace('${AWS::Region}', 'eu-west-1');
  expect(bootstrapRoleName(kind, '222222222222', 'eu-west-1')).toBe(expected);
});
