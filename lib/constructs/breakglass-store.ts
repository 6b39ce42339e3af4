import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';

export interface BreakglassStoreProps {
  /** The rendered manifests (multi-document YAML) of this deployment. */
  readonly manifestsYaml: string;
  /** The object every deployment stores them under (`manifestObjectKey`, lib/config/names.ts). */
  readonly objectKey: string;
  /**
   * The deploy's breakglass check reads the audit records, what S3 holds and the stack's outputs
   * through a role of this name that this account trusts. @default no reader role
   */
  readonly reader?: { readonly roleName: string; readonly pipelineAccount: string };
}

/**
 * The seed's breakglass design: every deployment stores its rendered manifests as a new version
 * of one S3 object, so an operator can fetch exactly what runs, change it, `kubectl apply` it and
 * store it back; every breakglass action is recorded in a DynamoDB audit table.
 */
export class BreakglassStore extends Construct {
  readonly bucket: s3.Bucket;
  readonly auditTable: dynamodb.TableV2;
  readonly readerRole?: iam.Role;

  constructor(scope: Construct, id: string, props: BreakglassStoreProps) {
    super(scope, id);

    const accessLogs = new s3.Bucket(this, 'AccessLogs', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      versioned: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
      lifecycleRules: [{ expiration: Duration.days(365) }],
      removalPolicy: RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
    });

    this.bucket = new s3.Bucket(this, 'Manifests', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      versioned: true,
      serverAccessLogsBucket: accessLogs,
      serverAccessLogsPrefix: 'manifests/',
      // Old versions are the history of what ran; keep a year of them.
      lifecycleRules: [{ noncurrentVersionExpiration: Duration.days(365) }],
      removalPolicy: RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
    });

    this.auditTable = new dynamodb.TableV2(this, 'Audit', {
      partitionKey: { name: 'environment', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'at', type: dynamodb.AttributeType.STRING },
      billing: dynamodb.Billing.onDemand(),
      encryption: dynamodb.TableEncryptionV2.awsManagedKey(),
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: true,
      removalPolicy: RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
    });

    // A new object version whenever the manifests change (CloudFormation updates the resource only then).
    const put: cr.AwsSdkCall = {
      service: 's3',
      action: 'PutObject',
      parameters: {
        Bucket: this.bucket.bucketName,
        Key: props.objectKey,
        Body: props.manifestsYaml,
        ContentType: 'application/yaml',
      },
      physicalResourceId: cr.PhysicalResourceId.of(`${Stack.of(this).stackName}-manifests`),
    };
    if (props.reader) {
      // Read-only, and only what the check reads (tools/pipeline/breakglass-check): the records,
      // the current manifest's version and metadata, the stack's outputs that name them.
      const stack = Stack.of(this);
      this.readerRole = new iam.Role(this, 'Reader', {
        roleName: props.reader.roleName,
        description: `The delivery pipeline (account ${props.reader.pipelineAccount}) checks for breakglass changes git does not carry before it deploys ${stack.stackName}`,
        assumedBy: new iam.AccountPrincipal(props.reader.pipelineAccount),
        inlinePolicies: {
          ReadBreakglassRecords: new iam.PolicyDocument({
            statements: [
              new iam.PolicyStatement({
                actions: ['dynamodb:Query'],
                resources: [this.auditTable.tableArn],
              }),
              // HeadObject is authorised by s3:GetObject
              new iam.PolicyStatement({
                actions: ['s3:GetObject'],
                resources: [this.bucket.arnForObjects(props.objectKey)],
              }),
              new iam.PolicyStatement({
                actions: ['cloudformation:DescribeStacks'],
                resources: [stack.stackId],
              }),
            ],
          }),
        },
      });
    }

    new cr.AwsCustomResource(this, 'StoreManifests', {
      onCreate: put,
      onUpdate: put,
      policy: cr.AwsCustomResourcePolicy.fromSdkCalls({
        resources: [this.bucket.arnForObjects(props.objectKey)],
      }),
      installLatestAwsSdk: false,
    });
  }
}
