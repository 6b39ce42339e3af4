import { Stack, type StackProps } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { ImageRepository, type ImageRepositoryProps } from '../constructs/image-repository';

export interface ImageReplicaStackProps extends StackProps {
  readonly repository: Omit<ImageRepositoryProps, 'source'>;
}

/** The replica repository in one region of the pipeline account; ECR replication fills it. */
export class ImageReplicaStack extends Stack {
  readonly repository: ImageRepository;

  constructor(scope: Construct, id: string, props: ImageReplicaStackProps) {
    super(scope, id, props);
    this.repository = new ImageRepository(this, 'Image', props.repository);
  }
}
