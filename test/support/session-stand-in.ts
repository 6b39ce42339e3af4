import { randomUUID } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import type { Fault, ProxiedCall } from './fault-proxy';
import { REPO_ROOT } from './paths';

/**
 * What IAM and STS decide for a tool that reads another account through an assumed role, as a
 * fault-proxy rule in front of moto_server (which emulates the services' data, not their
 * authorization). It encodes the documented behaviour the breakglass check depends on:
 *
 * - STS AssumeRole (https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html):
 *   only a role that exists can be assumed; any other is AccessDenied (403). A role an
 *   environment's own stack creates does not exist before that stack is deployed with it; the CDK
 *   bootstrap roles exist from `cdk bootstrap` on. The session policy (`Policy`) is kept with the
 *   credentials.
 * - A session's permissions are the intersection of the role's identity policies and the session
 *   policy (https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies.html#policies_session):
 *   a call either does not allow is AccessDenied. The role's policy here is the one the CDK
 *   bootstrap gives the lookup role, AWS's managed ReadOnlyAccess, read from moto's copy of AWS's
 *   managed policies (never typed here).
 * - S3 HeadObject of a key that does not exist (https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadObject.html):
 *   "If you have the s3:ListBucket permission on the bucket, Amazon S3 returns an HTTP status code
 *   404 Not Found error. If you don't have the s3:ListBucket permission, Amazon S3 returns an HTTP
 *   status code 403 Forbidden error." moto answers 404 regardless; this answers 403 when the
 *   session may not list the bucket.
 *
 * Calls signed with credentials it did not issue (the caller's own) pass through to moto.
 */

interface Statement {
  readonly Effect: string;
  readonly Action?: string | string[];
  readonly Resource?: string | string[];
  readonly Condition?: unknown;
}
interface PolicyDocument {
  readonly Statement: Statement | Statement[];
}

/** AWS's managed ReadOnlyAccess policy document, from moto's copy of AWS's managed policies. */
export function readOnlyAccessPolicy(): PolicyDocument {
  const python = path.join(REPO_ROOT, '.venv', 'bin', 'python');
  const out = spawnSync(
    python,
    [
      '-c',
      'import json; from moto.iam.aws_managed_policies import aws_managed_policies_data as d; print(json.dumps(json.loads(d)["ReadOnlyAccess"]["Document"]))',
    ],
    { encoding: 'utf8' },
  );
  if (out.status !== 0)
    throw new Error(`cannot read ReadOnlyAccess from moto (${python}): ${out.stderr}`);
  return JSON.parse(out.stdout) as PolicyDocument;
}

const list = (v: string | string[] | undefined): string[] =>
  v === undefined ? [] : Array.isArray(v) ? v : [v];

/** IAM's wildcards: `*` any run of characters, `?` one; actions case-insensitively. */
function matches(pattern: string, value: string, caseInsensitive = false): boolean {
  const re = new RegExp(
    `^${pattern
      .split('')
      .map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\/]/g, '\\$&')))
      .join('')}$`,
    caseInsensitive ? 'i' : '',
  );
  return re.test(value);
}

/**
 * Whether `policy` allows `action` on `resource`: an Allow statement without a condition names
 * both, and no Deny does. A statement with a condition is never counted as allowing: the stand-in
 * does not evaluate conditions, so it cannot grant through one (the safe reading).
 */
export function policyAllows(policy: PolicyDocument, action: string, resource: string): boolean {
  const statements = list(policy.Statement as never) as unknown as Statement[];
  const hit = (s: Statement) =>
    list(s.Action).some((a) => matches(a, action, true)) &&
    list(s.Resource).some((r) => matches(r, resource));
  if (statements.some((s) => s.Effect === 'Deny' && hit(s))) return false;
  return statements.some((s) => s.Effect === 'Allow' && s.Condition === undefined && hit(s));
}

export interface Session {
  readonly accessKeyId: string;
  readonly roleArn: string;
  readonly account: string;
  /** The session policy, or undefined when AssumeRole named none. */
  readonly policy?: PolicyDocument;
}

/** The action and resource ARN an AWS call needs, for the few calls the stand-in knows. */
export function callNeeds(
  call: ProxiedCall,
  region: string,
  account: string,
): { action: string; resource: string; s3?: { bucket: string; key: string } } | undefined {
  const [pathname, query = ''] = call.url.split('?');
  if (call.operation === 'Query' && call.json)
    return {
      action: 'dynamodb:Query',
      resource: `arn:aws:dynamodb:${region}:${account}:table/${(call.json as { TableName: string }).TableName}`,
    };
  const form = new URLSearchParams(call.text);
  if (form.get('Action') === 'DescribeStacks')
    return {
      action: 'cloudformation:DescribeStacks',
      // The stack's id is not in the request; an id stands for it (policies name `stack/<name>/*`).
      resource: `arn:aws:cloudformation:${region}:${account}:stack/${form.get('StackName')}/00000000-0000-0000-0000-000000000000`,
    };
  // S3, path-style (an IP endpoint): /<bucket>/<key>
  const [, bucket, ...keyParts] = pathname.split('/');
  if (!bucket) return undefined;
  const key = decodeURIComponent(keyParts.join('/'));
  if ((call.method === 'HEAD' || call.method === 'GET') && key)
    return {
      action: 's3:GetObject',
      resource: `arn:aws:s3:::${bucket}/${key}`,
      s3: { bucket, key },
    };
  if (call.method === 'GET' && !key && !/(^|&)(versions|versioning)/.test(query))
    return { action: 's3:ListBucket', resource: `arn:aws:s3:::${bucket}` };
  return undefined;
}

function accessKeyOf(call: ProxiedCall): string | undefined {
  return /Credential=([^/]+)\//.exec(call.headers.authorization ?? '')?.[1];
}
function regionOf(call: ProxiedCall): string {
  return /Credential=[^/]+\/\d+\/([^/]+)\//.exec(call.headers.authorization ?? '')?.[1] ?? '';
}

const xml = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** AccessDenied in the wire format of the service the call went to. */
function accessDenied(call: ProxiedCall, message: string): Fault {
  if (call.operation)
    return {
      kind: 'answer',
      status: 400,
      contentType: 'application/x-amz-json-1.0',
      body: JSON.stringify({
        __type: 'com.amazon.coral.service#AccessDeniedException',
        message,
      }),
    };
  if (new URLSearchParams(call.text).get('Action'))
    return {
      kind: 'answer',
      status: 403,
      contentType: 'text/xml',
      body: `<ErrorResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>${xml(message)}</Message></Error><RequestId>${randomUUID()}</RequestId></ErrorResponse>`,
    };
  // S3: a HEAD answer has no body ("it returns a generic code, such as ... 403 Forbidden").
  return {
    kind: 'answer',
    status: 403,
    contentType: 'application/xml',
    body:
      call.method === 'HEAD'
        ? ''
        : `<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>${xml(message)}</Message></Error>`,
  };
}

export interface SessionStandIn {
  /** Roles AssumeRole accepts. */
  readonly roles: Set<string>;
  /** Every session it issued, in order. */
  readonly sessions: Session[];
  /** The role's own policy, which the session policy narrows. */
  readonly rolePolicy: PolicyDocument;
  /**
   * The fault-proxy rule: answers AssumeRole, refuses what a session may not do, and answers a
   * HEAD of a missing object 403 when the session may not list the bucket (`exists` says whether
   * an object is there: moto holds the data, the test knows what it put).
   */
  rule(call: ProxiedCall, exists: (bucket: string, key: string) => boolean): Fault | undefined;
}

export function sessionStandIn(
  rolePolicy: PolicyDocument = readOnlyAccessPolicy(),
): SessionStandIn {
  const sessions: Session[] = [];
  const roles = new Set<string>();
  return {
    roles,
    sessions,
    rolePolicy,
    rule(call, exists) {
      const form = new URLSearchParams(call.text);
      if (form.get('Action') === 'AssumeRole') {
        const ns = 'https://sts.amazonaws.com/doc/2011-06-15/';
        const role = form.get('RoleArn') ?? '';
        if (!roles.has(role))
          return {
            kind: 'answer',
            status: 403,
            contentType: 'text/xml',
            body: `<ErrorResponse xmlns="${ns}"><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>User: arn:aws:sts::111111111111:assumed-role/check/x is not authorized to perform: sts:AssumeRole on resource: ${xml(role)}</Message></Error><RequestId>${randomUUID()}</RequestId></ErrorResponse>`,
          };
        const account = role.split(':')[4];
        const accessKeyId = `ASIA${randomUUID().replace(/-/g, '').slice(0, 16).toUpperCase()}`;
        const policy = form.get('Policy');
        sessions.push({
          accessKeyId,
          roleArn: role,
          account,
          policy: policy ? (JSON.parse(policy) as PolicyDocument) : undefined,
        });
        const session = form.get('RoleSessionName') ?? '';
        return {
          kind: 'answer',
          status: 200,
          contentType: 'text/xml',
          body: `<AssumeRoleResponse xmlns="${ns}"><AssumeRoleResult><Credentials><AccessKeyId>${accessKeyId}</AccessKeyId><SecretAccessKey>secret</SecretAccessKey><SessionToken>token</SessionToken><Expiration>2099-01-01T00:00:00Z</Expiration></Credentials><AssumedRoleUser><AssumedRoleId>AROAEXAMPLE:${xml(session)}</AssumedRoleId><Arn>arn:aws:sts::${account}:assumed-role/${xml(role.split('/').pop() ?? '')}/${xml(session)}</Arn></AssumedRoleUser></AssumeRoleResult><ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></AssumeRoleResponse>`,
        };
      }
      const session = sessions.find((s) => s.accessKeyId === accessKeyOf(call));
      if (!session) return undefined;
      const needs = callNeeds(call, regionOf(call), session.account);
      if (!needs) return undefined;
      const allowed = (action: string, resource: string) =>
        policyAllows(rolePolicy, action, resource) &&
        (session.policy === undefined || policyAllows(session.policy, action, resource));
      const who = `arn:aws:sts::${session.account}:assumed-role/${session.roleArn.split('/').pop()}/session`;
      if (!allowed(needs.action, needs.resource))
        return accessDenied(
          call,
          `User: ${who} is not authorized to perform: ${needs.action} on resource: ${needs.resource} because no session policy allows the ${needs.action} action`,
        );
      if (
        needs.s3 &&
        !exists(needs.s3.bucket, needs.s3.key) &&
        !allowed('s3:ListBucket', `arn:aws:s3:::${needs.s3.bucket}`)
      )
        return accessDenied(call, 'Access Denied');
      return undefined;
    },
  };
}
