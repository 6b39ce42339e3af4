import { Aspects, type CfnOutput, Stage, type StageProps } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { RetainExceptOnCreate } from '../aspects/retain-except-on-create';
import type { EnvironmentConfig } from '../config';
import { EksAppStack, type EksAppStackProps } from '../stacks/eks-app-stack';

export interface AppStageProps extends StageProps {
  readonly environment: EnvironmentConfig;
  /** Construct id of the application stack (`appStackId`, lib/config/names.ts). */
  readonly stackId: string;
  readonly image: EksAppStackProps['image'];
}

/**
 * What the pipeline deploys to one environment. It re-exports the outputs the pipeline's post
 * steps consume (the CDK workshop's pattern), so the pipeline never reaches into the stack.
 */
export class AppStage extends Stage {
  readonly serviceUrl: CfnOutput;
  readonly imageTag: CfnOutput;
  readonly stack: EksAppStack;

  constructor(scope: Construct, id: string, props: AppStageProps) {
    super(scope, id, {
      ...props,
      env: { account: props.environment.account, region: props.environment.region },
    });
    // Here, not on the app: CDK Pipelines synthesizes a stage when it is added, before app-level aspects run.
    Aspects.of(this).add(new RetainExceptOnCreate());
    this.stack = new EksAppStack(this, props.stackId, {
      stackName: props.environment.stackName,
      description: `${props.environment.service.name} ${props.environment.stageName}: VPC, EKS cluster, workload and breakglass store`,
      environment: props.environment,
      image: props.image,
      // No terminationProtection: CDK Pipelines' CloudFormation actions never apply it (a claim that
      // would not hold); docs/runbooks/first-deployment.md turns it on once per prod stack.
    });
    this.serviceUrl = this.stack.serviceUrl;
    this.imageTag = this.stack.imageTag;
  }
}
