import { randomUUID } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A stand-in for the three AWS APIs the bake watch calls (lib/pipeline/bake-watch.ts), served on
 * 127.0.0.1 so that the real AWS CLI (`.venv/bin/aws`, pinned in requirements-dev.txt) signs,
 * sends and parses real requests and applies the script's real `--query` expressions. moto_server
 * would be the first choice, but moto 5.2 implements neither PutCompositeAlarm (so no composite
 * alarm can exist there) nor CodePipeline's GetPipelineState/GetPipelineExecution.
 *
 * Each answer has the shape of the API reference it cites, and the stand-in encodes the documented
 * behaviour the script depends on:
 * - STS AssumeRole (https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html):
 *   new credentials per call; a role that does not exist or does not trust the caller is
 *   AccessDenied. The session policy (`Policy`) is remembered with the credentials.
 * - CloudWatch DescribeAlarms (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_DescribeAlarms.html):
 *   alarms live in the account of the caller's credentials and the region of the request's
 *   signature. "To use this operation and return information about composite alarms, you must be
 *   signed on with the cloudwatch:DescribeAlarms permission that is scoped to *. You can't return
 *   information about composite alarms if your cloudwatch:DescribeAlarms permission has a narrower
 *   scope": with a session policy that allows DescribeAlarms on anything but `*`, no composite
 *   alarm is returned (and no error).
 * - CodePipeline GetPipelineState (https://docs.aws.amazon.com/codepipeline/latest/APIReference/API_GetPipelineState.html,
 *   StageState.latestExecution: StageExecution, ActionState.latestExecution: ActionExecution with
 *   externalExecutionId) and GetPipelineExecution (PipelineExecution.executionType STANDARD |
 *   ROLLBACK, https://docs.aws.amazon.com/codepipeline/latest/APIReference/API_PipelineExecution.html).
 */

export type AlarmState = 'OK' | 'ALARM' | 'INSUFFICIENT_DATA';

export interface StandInPipeline {
  readonly name: string;
  /** GetPipelineState's stageStates: per stage, its latest execution and its actions' latest build ids. */
  readonly stages: ReadonlyArray<{
    readonly stageName: string;
    readonly latestExecution: { pipelineExecutionId: string; status: string; type?: string };
    readonly actions: ReadonlyArray<{ actionName: string; externalExecutionId?: string }>;
  }>;
  /** GetPipelineExecution: execution id → executionType. */
  readonly executions: Readonly<Record<string, 'STANDARD' | 'ROLLBACK'>>;
}

export interface Call {
  readonly service: 'sts' | 'monitoring' | 'codepipeline';
  readonly operation: string;
  /** The access key that signed the request, and the region of its signature. */
  readonly accessKey: string;
  readonly region: string;
  readonly params: Record<string, string>;
}

export interface AwsStandIn {
  readonly endpoint: string;
  readonly calls: Call[];
  /** Roles AssumeRole accepts, with their account. */
  roles: Set<string>;
  pipeline?: StandInPipeline;
  /**
   * Composite alarms by `<account>/<region>/<name>`: the state each DescribeAlarms returns, in
   * order; the last one repeats.
   */
  compositeAlarms: Map<string, AlarmState[]>;
  /** When set, DescribeAlarms answers this error (code, message) instead. */
  describeAlarmsError?: { code: string; message: string };
  stop(): Promise<void>;
}

const xml = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function allowsDescribeAlarmsOnStarOnly(policy: string | undefined): boolean {
  // No session policy: the role's own policies decide; the roles the stand-in knows are the CDK
  // bootstrap lookup role, whose ReadOnlyAccess allows cloudwatch:Describe* on "*".
  if (policy === undefined) return true;
  const doc = JSON.parse(policy) as {
    Statement: Array<{ Effect: string; Action: string | string[]; Resource: string | string[] }>;
  };
  const list = (v: string | string[]) => (Array.isArray(v) ? v : [v]);
  return doc.Statement.some(
    (s) =>
      s.Effect === 'Allow' &&
      list(s.Action).some((a) => a === 'cloudwatch:DescribeAlarms' || a === 'cloudwatch:*') &&
      list(s.Resource).includes('*'),
  );
}

export async function startAwsStandIn(): Promise<AwsStandIn> {
  const sessions = new Map<string, { account: string; policy?: string }>();
  const state: AwsStandIn = {
    endpoint: '',
    calls: [],
    roles: new Set(),
    compositeAlarms: new Map(),
    stop: () => Promise.resolve(),
  };

  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      const auth = /Credential=([^/]+)\/\d+\/([^/]+)\/([^/]+)\//.exec(
        req.headers.authorization ?? '',
      );
      const [accessKey, region, service] = auth ? [auth[1], auth[2], auth[3]] : ['', '', ''];
      const reply = (status: number, type: string, text: string) => {
        res.writeHead(status, { 'content-type': type });
        res.end(text);
      };
      if (service === 'codepipeline') {
        const operation = String(req.headers['x-amz-target'] ?? '').split('.')[1] ?? '';
        const params = JSON.parse(body || '{}') as Record<string, string>;
        state.calls.push({ service, operation, accessKey, region, params });
        const json = (status: number, value: unknown) =>
          reply(status, 'application/x-amz-json-1.1', JSON.stringify(value));
        const p = state.pipeline;
        if (operation === 'GetPipelineState') {
          if (!p || params.name !== p.name)
            return json(400, {
              __type: 'PipelineNotFoundException',
              message: `pipeline ${params.name} not found`,
            });
          return json(200, {
            pipelineName: p.name,
            pipelineVersion: 7,
            stageStates: p.stages.map((s) => ({
              stageName: s.stageName,
              latestExecution: s.latestExecution,
              actionStates: s.actions.map((a) => ({
                actionName: a.actionName,
                ...(a.externalExecutionId
                  ? {
                      latestExecution: {
                        actionExecutionId: randomUUID(),
                        status: 'InProgress',
                        externalExecutionId: a.externalExecutionId,
                      },
                    }
                  : {}),
              })),
            })),
          });
        }
        if (operation === 'GetPipelineExecution') {
          const type = p?.executions[params.pipelineExecutionId];
          if (!p || params.pipelineName !== p.name || !type)
            return json(400, {
              __type: 'PipelineExecutionNotFoundException',
              message: `execution ${params.pipelineExecutionId} not found`,
            });
          return json(200, {
            pipelineExecution: {
              pipelineName: p.name,
              pipelineVersion: 7,
              pipelineExecutionId: params.pipelineExecutionId,
              status: 'InProgress',
              executionMode: 'SUPERSEDED',
              executionType: type,
            },
          });
        }
        return json(400, { __type: 'UnknownOperationException', message: operation });
      }

      // STS and CloudWatch speak the query protocol (a form body, XML answers); newer CLIs speak
      // JSON 1.0 to CloudWatch (X-Amz-Target GraniteServiceVersion20100801.<operation>).
      const jsonProtocol = String(req.headers['content-type'] ?? '').includes('amz-json-1.0');
      const params: Record<string, string> = jsonProtocol
        ? Object.fromEntries(
            Object.entries(JSON.parse(body || '{}') as Record<string, unknown>).flatMap(([k, v]) =>
              Array.isArray(v)
                ? v.map((item, i) => [`${k}.member.${i + 1}`, String(item)])
                : [[k, String(v)]],
            ),
          )
        : Object.fromEntries(new URLSearchParams(body));
      const operation = jsonProtocol
        ? (String(req.headers['x-amz-target'] ?? '').split('.')[1] ?? '')
        : (params.Action ?? '');
      state.calls.push({
        service: service as Call['service'],
        operation,
        accessKey,
        region,
        params,
      });
      const error = (status: number, ns: string, code: string, message: string) =>
        jsonProtocol
          ? reply(status, 'application/x-amz-json-1.0', JSON.stringify({ __type: code, message }))
          : reply(
              status,
              'text/xml',
              `<ErrorResponse xmlns="${ns}"><Error><Type>Sender</Type><Code>${code}</Code><Message>${xml(message)}</Message></Error><RequestId>${randomUUID()}</RequestId></ErrorResponse>`,
            );
      if (service === 'sts' && operation === 'AssumeRole') {
        const ns = 'https://sts.amazonaws.com/doc/2011-06-15/';
        const role = params.RoleArn;
        if (!state.roles.has(role))
          return error(
            403,
            ns,
            'AccessDenied',
            `User: arn:aws:sts::111111111111:assumed-role/build/x is not authorized to perform: sts:AssumeRole on resource: ${role}`,
          );
        const account = role.split(':')[4];
        const key = `ASIA${randomUUID().replace(/-/g, '').slice(0, 16).toUpperCase()}`;
        sessions.set(key, { account, policy: params.Policy });
        return reply(
          200,
          'text/xml',
          `<AssumeRoleResponse xmlns="${ns}"><AssumeRoleResult><Credentials><AccessKeyId>${key}</AccessKeyId><SecretAccessKey>secret</SecretAccessKey><SessionToken>token</SessionToken><Expiration>2099-01-01T00:00:00Z</Expiration></Credentials><AssumedRoleUser><AssumedRoleId>AROAEXAMPLE:${xml(params.RoleSessionName)}</AssumedRoleId><Arn>arn:aws:sts::${account}:assumed-role/${xml(role.split('/').pop() ?? '')}/${xml(params.RoleSessionName)}</Arn></AssumedRoleUser></AssumeRoleResult><ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></AssumeRoleResponse>`,
        );
      }
      if (service === 'monitoring' && operation === 'DescribeAlarms') {
        const ns = 'http://monitoring.amazonaws.com/doc/2010-08-01/';
        if (state.describeAlarmsError)
          return error(403, ns, state.describeAlarmsError.code, state.describeAlarmsError.message);
        const session = sessions.get(accessKey);
        // The build's own credentials are in the pipeline account.
        const account = session?.account ?? '111111111111';
        const names = Object.entries(params)
          .filter(([k]) => k.startsWith('AlarmNames.member.'))
          .map(([, v]) => v);
        const visible = allowsDescribeAlarmsOnStarOnly(session?.policy);
        const alarms = names.flatMap((name) => {
          const states = state.compositeAlarms.get(`${account}/${region}/${name}`);
          if (!states || !visible) return [];
          const now = states.length > 1 ? states.shift()! : states[0];
          return [
            {
              AlarmName: name,
              AlarmArn: `arn:aws:cloudwatch:${region}:${account}:alarm:${name}`,
              StateValue: now,
            },
          ];
        });
        if (jsonProtocol)
          return reply(
            200,
            'application/x-amz-json-1.0',
            JSON.stringify({ CompositeAlarms: alarms, MetricAlarms: [] }),
          );
        const members = alarms.map(
          (a) =>
            `<member><AlarmName>${xml(a.AlarmName)}</AlarmName><AlarmArn>${xml(a.AlarmArn)}</AlarmArn><StateValue>${a.StateValue}</StateValue></member>`,
        );
        return reply(
          200,
          'text/xml',
          `<DescribeAlarmsResponse xmlns="${ns}"><DescribeAlarmsResult><CompositeAlarms>${members.join('')}</CompositeAlarms><MetricAlarms/></DescribeAlarmsResult><ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></DescribeAlarmsResponse>`,
        );
      }
      return error(400, '', 'InvalidAction', `${service} ${operation} is not served here`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(state, {
    endpoint: `http://127.0.0.1:${port}`,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  });
}
