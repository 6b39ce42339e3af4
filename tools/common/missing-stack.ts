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
