import { RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';

export interface ImageRepositoryProps {
  readonly repositoryName: string;
  /** Every account that runs the image: the only ones allowed to pull. */
  readonly pullAccounts: readonly string[];
  /** Regions other than this stack's that host a stage: the image is replicated there. */
  readonly replicaRegions: readonly string[];
  /** Images kept by the lifecycle policy; each is a rollback target. */
  readonly keepImages: number;
  /** ENHANCED: Amazon Inspector scans the repository continuously; BASIC: scan on push. */
  readonly scanning: 'ENHANCED' | 'BASIC';
}

/**
 * The project's one image repository, in the pipeline account: immutable tags, scan on push,
 * encryption, a lifecycle that keeps rollback targets, pull for the environments' accounts only,
 * and replication to every region with a stage. Replicas are created by ECR with the same
 * settings and pull policy through a repository creation template.
 */
export class ImageRepository extends Construct {
  readonly repository: ecr.Repository;

  constructor(scope: Construct, id: string, props: ImageRepositoryProps) {
    super(scope, id);
    const stack = Stack.of(this);

    const lifecycleRule = { rulePriority: 1, description: `keep the newest ${props.keepImages} images (rollback targets)`, tagStatus: ecr.TagStatus.ANY, maxImageCount: props.keepImages };
    this.repository = new ecr.Repository(this, 'Repository', {
      repositoryName: props.repositoryName,
      imageTagMutability: ecr.TagMutability.IMMUTABLE,
      imageScanOnPush: true,
      encryption: ecr.RepositoryEncryption.AES_256,
      lifecycleRules: [lifecycleRule],
      removalPolicy: RemovalPolicy.RETAIN,
    });

    const pullStatement = {
      Sid: 'PullFromDeliveryAccounts',
      Effect: 'Allow',
      Principal: { AWS: props.pullAccounts.map((a) => `arn:${stack.partition}:iam::${a}:root`) },
      Action: ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchCheckLayerAvailability'],
    };
    this.repository.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: pullStatement.Sid,
        principals: props.pullAccounts.map((a) => new iam.AccountPrincipal(a)),
        actions: pullStatement.Action,
      }),
    );

    if (props.scanning === 'ENHANCED') {
      // Registry-wide setting of the pipeline account (one per account and region): see docs/configuration.md.
      new ecr.CfnRegistryScanningConfiguration(this, 'Scanning', {
        scanType: 'ENHANCED',
        rules: [{ scanFrequency: 'CONTINUOUS_SCAN', repositoryFilters: [{ filter: props.repositoryName, filterType: 'WILDCARD' }] }],
      });
    }

    if (props.replicaRegions.length > 0) {
      // Registry-wide setting of the pipeline account (one per account and region): see docs/configuration.md.
      new ecr.CfnReplicationConfiguration(this, 'Replication', {
        replicationConfiguration: {
          rules: [
            {
              destinations: props.replicaRegions.map((region) => ({ region, registryId: stack.account })),
              repositoryFilters: [{ filter: props.repositoryName, filterType: 'PREFIX_MATCH' }],
            },
          ],
        },
      });
      // Replicas are created by ECR on first replication; this template gives them our settings.
      new ecr.CfnRepositoryCreationTemplate(this, 'ReplicaTemplate', {
        prefix: props.repositoryName,
        appliedFor: ['REPLICATION'],
        description: `Replicas of ${props.repositoryName}: immutable, encrypted, pull for the delivery accounts only`,
        imageTagMutability: 'IMMUTABLE',
        encryptionConfiguration: { encryptionType: 'AES256' },
        repositoryPolicy: JSON.stringify({ Version: '2012-10-17', Statement: [pullStatement] }),
        lifecyclePolicy: JSON.stringify({
          rules: [{ rulePriority: 1, description: lifecycleRule.description, selection: { tagStatus: 'any', countType: 'imageCountMoreThan', countNumber: props.keepImages }, action: { type: 'expire' } }],
        }),
      });
    }
  }
}
