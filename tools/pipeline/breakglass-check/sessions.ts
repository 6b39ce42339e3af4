import type { BreakglassCheckTarget } from '../../../lib/config/breakglass-check-targets';

/**
 * The session policies of the check's two sessions in an environment's CDK bootstrap lookup role.
 * That role may read the whole account (AWS managed ReadOnlyAccess); a session's permissions are
 * the intersection of the role's and the session policy's
 * (https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies.html#policies_session), so
 * each session may make exactly the reads the check makes with it, on the resources it reads.
 * Two sessions because the second one's resources (the audit table, the manifest bucket) are
 * named only by the stack's outputs, which the first one reads. docs/decisions/0035-breakglass-check-through-the-lookup-role.md.
 */

/** Where the environment's records are, from its stack's outputs. */
export interface RecordsLocation {
  readonly table: string;
  readonly bucket: string;
  readonly key: string;
}

/** The first session: the stack's outputs (and whether it exists at all). */
export function stackSessionPolicy(target: BreakglassCheckTarget) {
  const { partition, region, account, stackName } = target;
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Action: 'cloudformation:DescribeStacks',
        Resource: `arn:${partition}:cloudformation:${region}:${account}:stack/${stackName}/*`,
      },
    ],
  } as const;
}

/**
 * The second session: the breakglass records (and the table's encryption, when they cannot be
 * read) and the stored manifest's version and metadata
 * (HeadObject is authorized by s3:GetObject). And s3:ListBucket on the manifest bucket: without
 * it, S3 answers a HeadObject of a missing object with 403 Forbidden, not 404 Not Found
 * (https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadObject.html), and "not there" could not
 * be told from "not allowed". Not narrowed with an `s3:prefix` condition: whether S3 evaluates a
 * condition key of ListObjects when it decides HeadObject's 404 is not documented, and a condition
 * that did not hold would bring the 403 back. The bucket holds this one object (and its versions);
 * listing it shows that key's name.
 */
export function recordsSessionPolicy(target: BreakglassCheckTarget, where: RecordsLocation) {
  const { partition, region, account } = target;
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        // DescribeTable: only when a Query is refused, to tell a KMS-keyed table (check.ts)
        Action: ['dynamodb:Query', 'dynamodb:DescribeTable'],
        Resource: `arn:${partition}:dynamodb:${region}:${account}:table/${where.table}`,
      },
      {
        Effect: 'Allow',
        Action: 's3:GetObject',
        Resource: `arn:${partition}:s3:::${where.bucket}/${where.key}`,
      },
      {
        Effect: 'Allow',
        Action: 's3:ListBucket',
        Resource: `arn:${partition}:s3:::${where.bucket}`,
      },
    ],
  } as const;
}
