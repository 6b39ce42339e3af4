import { RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';

export interface ImageRepositoryProps {
  readonly repositoryName: string;
  /** Every account that runs the image: the only ones allowed to pull. */
  readonly pullAccounts: readonly string[];
  /** Images kept by the lifecycle policy; each is a rollback target. */
  readonly keepImages: number;
  /**
   * Only on the source repository (where the image is pushed): the regions it is replicated to,
   * and how it is scanned. Replicas take neither. @default a replica
   */
  readonly source?: {
    /** Regions other than this stack's that host a stage. */
    readonly replicaRegions: readonly string[];
    /** ENHANCED: Amazon Inspector scans the repository continuously; BASIC: scan on push. */
    readonly scanning: 'ENHANCED' | 'BASIC';
  };
}

/**
 * One of the project's image repositories, all in the pipeline account: the source, where the
 * image is pushed, and a replica of the same name in every other region that hosts a stage (so
 * pods pull from their own region). Every one has immutable tags, encryption, a lifecycle that
 * keeps rollback targets, and pull for the environments' accounts only. The replicas are
 * created by CloudFormation before the first image replicates into them, so they carry these
 * settings from the start and stay managed (a creation template would apply once, at creation).
 */
export class ImageRepository extends Construct {
  readonly repository: ecr.Repository;

  constructor(scope: Construct, id: string, props: ImageRepositoryProps) {
    super(scope, id);
    const stack = Stack.of(this);

    this.repository = new ecr.Repository(this, 'Repository', {
      repositoryName: props.repositoryName,
      imageTagMutability: ecr.TagMutability.IMMUTABLE,
      imageScanOnPush: true,
      encryption: ecr.RepositoryEncryption.AES_256,
      lifecycleRules: [
        {
          rulePriority: 1,
          description: `keep the newest ${props.keepImages} images (rollback targets)`,
          tagStatus: ecr.TagStatus.ANY,
          maxImageCount: props.keepImages,
        },
      ],
      removalPolicy: RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
    });
    this.repository.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'PullFromDeliveryAccounts',
        principals: props.pullAccounts.map((a) => new iam.AccountPrincipal(a)),
        actions: [
          'ecr:BatchGetImage',
          'ecr:GetDownloadUrlForLayer',
          'ecr:BatchCheckLayerAvailability',
        ],
      }),
    );

    if (!props.source) return;
    if (props.source.scanning === 'ENHANCED') {
      // Registry-wide setting of the pipeline account (one per account and region): see docs/configuration.md.
      new ecr.CfnRegistryScanningConfiguration(this, 'Scanning', {
        scanType: 'ENHANCED',
        rules: [
          {
            scanFrequency: 'CONTINUOUS_SCAN',
            repositoryFilters: [{ filter: props.repositoryName, filterType: 'WILDCARD' }],
          },
        ],
      });
    }
    if (props.source.replicaRegions.length > 0) {
      // Registry-wide setting of the pipeline account (one per account and region): see docs/configuration.md.
      new ecr.CfnReplicationConfiguration(this, 'Replication', {
        replicationConfiguration: {
          rules: [
            {
              destinations: props.source.replicaRegions.map((region) => ({
                region,
                registryId: stack.account,
              })),
              repositoryFilters: [{ filter: props.repositoryName, filterType: 'PREFIX_MATCH' }],
            },
          ],
        },
      });
    }
  }
}
