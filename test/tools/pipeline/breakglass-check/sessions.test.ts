import * as fs from 'node:fs';
import * as path from 'node:path';
import type { BreakglassCheckTarget } from '../../../../lib/config/breakglass-check-targets';
import {
  recordsSessionPolicy,
  stackSessionPolicy,
} from '../../../../tools/pipeline/breakglass-check/sessions';
import type { ProxiedCall } from '../../../support/fault-proxy';
import { REPO_ROOT } from '../../../support/paths';
import { sessionStandIn } from '../../../support/session-stand-in';

/**
 * S3 answers a HeadObject of a key that does not exist with 404 only to a caller that may list
 * the bucket: "If you have the s3:ListBucket permission on the bucket, Amazon S3 returns an HTTP
 * status code 404 Not Found error. If you don't have the s3:ListBucket permission, Amazon S3
 * returns an HTTP status code 403 Forbidden error."
 * (https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadObject.html). moto answers 404 either
 * way, so the check's moto test runs behind test/support/session-stand-in.ts, which encodes that
 * rule; these tests pin the rule and the session policy that makes the 404 possible.
 */
const haveVenv = fs.existsSync(path.join(REPO_ROOT, '.venv', 'bin', 'python'));
const it = haveVenv ? test : test.skip;

const target: BreakglassCheckTarget = {
  stageName: 'prod-eu-west-1',
  account: '333333333333',
  region: 'eu-west-1',
  partition: 'aws',
  stackName: 'svc-prod-eu-west-1',
  lookupRoleArn: 'arn:aws:iam::333333333333:role/cdk-hnb659fds-lookup-role-333333333333-eu-west-1',
  manifestFile: 'prod-eu-west-1.yaml',
};
const where = { table: 'audit', bucket: 'manifests-bucket', key: 'manifests/svc.yaml' };

/** A session of the lookup role under `policy`, and a HEAD of the manifest object signed by it. */
function headAs(policy: unknown, objectExists: boolean): number | undefined {
  const iam = sessionStandIn();
  iam.roles.add(target.lookupRoleArn);
  const assume: ProxiedCall = {
    method: 'POST',
    url: '/',
    text: new URLSearchParams({
      Action: 'AssumeRole',
      RoleArn: target.lookupRoleArn,
      RoleSessionName: 'test',
      Policy: JSON.stringify(policy),
    }).toString(),
    headers: {},
  };
  const answer = iam.rule(assume, () => true);
  expect(answer).toMatchObject({ kind: 'answer', status: 200 });
  const key = iam.sessions[0].accessKeyId;
  const head: ProxiedCall = {
    method: 'HEAD',
    url: `/${where.bucket}/${where.key}`,
    text: '',
    headers: {
      authorization: `AWS4-HMAC-SHA256 Credential=${key}/20260101/${target.region}/s3/aws4_request, SignedHeaders=host, Signature=x`,
    },
  };
  const fault = iam.rule(head, () => objectExists);
  // undefined: the call goes on to moto, which answers 200 or 404 from its data
  return fault?.kind === 'answer' ? fault.status : undefined;
}

it('without s3:ListBucket, a missing manifest is 403 (S3 cannot say "not there" to the session)', () => {
  const policy = recordsSessionPolicy(target, where);
  const withoutList = {
    ...policy,
    Statement: policy.Statement.filter((s) => s.Action !== 's3:ListBucket'),
  };
  expect(headAs(withoutList, false)).toBe(403);
  expect(headAs(withoutList, true)).toBeUndefined();
});

it('the records session may list the bucket, so a missing manifest is a 404 the check can read as "not there"', () => {
  expect(headAs(recordsSessionPolicy(target, where), false)).toBeUndefined();
});

it('the stack session cannot read the manifest at all: each session allows only its own reads', () => {
  expect(headAs(stackSessionPolicy(target), true)).toBe(403);
});
