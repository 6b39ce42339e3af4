/**
 * DescribeStacks answers a stack that does not exist with `ValidationError` "Stack with id X does
 * not exist" (https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DescribeStacks.html):
 * the one answer that means "nothing deployed", told apart from every other failure (access
 * denied, throttled, ...), which means "could not read".
 */
export function isMissingStack(e: unknown): boolean {
  const err = e as { name?: string; Code?: string; message?: string };
  return (
    (err.name === 'ValidationError' || err.Code === 'ValidationError') &&
    /does not exist/i.test(err.message ?? '')
  );
}

/**
 * Stack statuses in which none of the stack's resources exist: the stack was made for a change set
 * that never ran, or its first creation rolled back (CloudFormation deletes what the create made;
 * lib/aspects/retain-except-on-create.ts keeps no retained resource of a rolled-back create). The
 * breakglass check passes both; the change report reads REVIEW_IN_PROGRESS as absent and names
 * ROLLBACK_COMPLETE, on which the deploy fails (change-report/deployed.ts, traffic.ts).
 * https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/view-stack-events.html#cfn-console-view-stack-data-resources-status-codes
 */
export const STATUSES_WITHOUT_RESOURCES: ReadonlyMap<string, string> = new Map([
  ['REVIEW_IN_PROGRESS', 'created for a change set that was never executed'],
  ['ROLLBACK_COMPLETE', 'its first creation failed and was rolled back'],
]);
