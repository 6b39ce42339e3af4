import { CfnDeletionPolicy, CfnResource, type IAspect } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/**
 * Turns `DeletionPolicy: Retain` into `RetainExceptOnCreate` on every resource, including those
 * aws-cdk-lib creates with a fixed Retain that we cannot configure (the kubectl provider's and
 * AwsCustomResource's log groups, CodePipeline's cross-region replication buckets). A resource
 * whose own create rolls back is then deleted instead of left behind to collide with the retry
 * ("already exists"); on every later update or delete it is kept, as before.
 * https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-attribute-deletionpolicy.html
 * Our own constructs say `RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE` themselves; this aspect is
 * for the rest, so no Retain can come back with a CDK upgrade (test/stacks/removal-policies.test.ts).
 */
export class RetainExceptOnCreate implements IAspect {
  visit(node: IConstruct): void {
    if (
      node instanceof CfnResource &&
      node.cfnOptions.deletionPolicy === CfnDeletionPolicy.RETAIN
    ) {
      node.cfnOptions.deletionPolicy = CfnDeletionPolicy.RETAIN_EXCEPT_ON_CREATE;
    }
  }
}
