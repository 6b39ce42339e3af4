import { Aspects, Stage, type StageProps } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { RetainExceptOnCreate } from '../aspects/retain-except-on-create';
import type { ImageRepositoryProps } from '../constructs/image-repository';
import { ImageReplicaStack } from '../stacks/image-replica-stack';

export interface ImageReplicasStageProps extends StageProps {
  /** The pipeline account: replicas live in the same registry as the source. */
  readonly account: string;
  readonly regions: readonly string[];
  readonly repository: Omit<ImageRepositoryProps, 'source'>;
  /** The CloudFormation stack name of a region's replica stack (`imageReplicaStackName`, lib/config/names.ts). */
  readonly stackNameOf: (region: string) => string;
}

/**
 * Deployed by the pipeline before the image is built: the replica repository in every region
 * (other than the pipeline's) that hosts a stage, one small stack per region.
 */
export class ImageReplicasStage extends Stage {
  readonly stacks: ImageReplicaStack[];

  constructor(scope: Construct, id: string, props: ImageReplicasStageProps) {
    super(scope, id, props);
    // Here, not on the app: CDK Pipelines synthesizes a stage when it is added, before app-level aspects run.
    Aspects.of(this).add(new RetainExceptOnCreate());
    this.stacks = props.regions.map(
      (region) =>
        new ImageReplicaStack(this, `Replica-${region}`, {
          env: { account: props.account, region },
          stackName: props.stackNameOf(region),
          description: `Replica of the ${props.repository.repositoryName} image repository in ${region}`,
          repository: props.repository,
        }),
    );
  }
}
