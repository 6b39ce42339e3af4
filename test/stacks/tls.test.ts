import type { Service } from 'kubernetes-models/v1';
import {
  ConfigError,
  DEFAULT_SERVICE,
  type DeliveryConfigInput,
  STACK_ENVIRONMENTS,
  validateConfig,
} from '../../lib/config';
import { renderWorkload } from '../../lib/manifests/workload';
import { type Synthesized, synthesize } from '../support/synth';

/**
 * TLS is tested like HTTP: with `certificateArn` the stage's ServiceUrl is https://, the smoke test
 * calls it presenting `tlsHostName` (the name the certificate covers) and checks the certificate
 * against it (test/tools/pipeline/smoke-test/tls.test.ts), and port 80 closes unless `httpWithTls` keeps it:
 * an NLB is layer 4 and cannot redirect HTTP to HTTPS
 * (https://docs.aws.amazon.com/elasticloadbalancing/latest/network/load-balancer-listeners.html).
 */
const CERT = 'arn:aws:acm:us-east-1:333333333333:certificate/0123abcd-0000-4000-8000-000000000000';
const withTls = (env: Record<string, unknown>): DeliveryConfigInput => {
  const cfg = JSON.parse(JSON.stringify(STACK_ENVIRONMENTS)) as DeliveryConfigInput;
  Object.assign(cfg.prod.waves[1][0], env); // prod-us-east-1
  return cfg;
};

function problems(raw: DeliveryConfigInput): string[] {
  try {
    validateConfig(raw);
    return [];
  } catch (e) {
    if (e instanceof ConfigError) return e.problems.map((p) => `${p.path}: ${p.message}`);
    throw e;
  }
}

describe('config', () => {
  test('certificateArn needs tlsHostName, the name the smoke test checks the certificate against', () => {
    expect(problems(withTls({ certificateArn: CERT }))).toEqual([
      expect.stringMatching(/^prod\.waves\[1\]\[0\]\.tlsHostName: is required with certificateArn/),
    ]);
  });

  test('tlsHostName and httpWithTls without a certificate are refused, naming their paths', () => {
    expect(problems(withTls({ tlsHostName: 'hello.example.com', httpWithTls: true }))).toEqual([
      expect.stringMatching(
        /^prod\.waves\[1\]\[0\]\.tlsHostName: has no effect without certificateArn/,
      ),
      expect.stringMatching(
        /^prod\.waves\[1\]\[0\]\.httpWithTls: has no effect without certificateArn/,
      ),
    ]);
  });

  test.each([
    '*.example.com',
    'Hello.Example.com',
    'hello',
    'hello.example.com.',
    'a b.com',
    'x;y.com',
  ])('tlsHostName %j is not a DNS name', (name) => {
    expect(problems(withTls({ certificateArn: CERT, tlsHostName: name }))).toEqual([
      expect.stringMatching(/^prod\.waves\[1\]\[0\]\.tlsHostName: must be a DNS name/),
    ]);
  });

  test('port 80 is closed with TLS by default (httpWithTls: false)', () => {
    const cfg = validateConfig(withTls({ certificateArn: CERT, tlsHostName: 'hello.example.com' }));
    expect(cfg.prod.waves[1][0]).toMatchObject({
      certificateArn: CERT,
      tlsHostName: 'hello.example.com',
      httpWithTls: false,
    });
  });
});

describe('the Service the NLB is made from', () => {
  const props = {
    service: DEFAULT_SERVICE,
    image: 'x:y',
    imageTag: 'y',
    greeting: 'Hi',
    replicas: { min: 3, max: 12, targetCpuPercent: 70 },
    kubernetesVersion: '1.35',
  };
  const ports = (p: Partial<Parameters<typeof renderWorkload>[0]>) =>
    (
      renderWorkload({ ...props, ...p }).find((o) => o.kind === 'Service') as Service
    ).spec?.ports?.map((x) => `${x.name}:${x.port}`);

  test('without a certificate: HTTP on 80 only', () => expect(ports({})).toEqual(['http:80']));
  test('with a certificate: HTTPS on 443 only, by default', () =>
    expect(ports({ certificateArn: CERT })).toEqual(['https:443']));
  test('with a certificate and httpWithTls: 80 stays open too', () =>
    expect(ports({ certificateArn: CERT, httpWithTls: true })).toEqual(['http:80', 'https:443']));
});

describe('synthesized', () => {
  let s: Synthesized;
  beforeAll(() => {
    s = synthesize({ config: withTls({ certificateArn: CERT, tlsHostName: 'hello.example.com' }) });
  });

  test('ServiceUrl is https:// where a certificate is set, http:// elsewhere', () => {
    const url = (stage: string) =>
      JSON.stringify(
        (s.stages[stage].toJSON() as { Outputs: Record<string, { Value: unknown }> }).Outputs
          .ServiceUrl.Value,
      );
    expect(url('prod-us-east-1')).toMatch(/^\{"Fn::Join":\["",\["https:\/\//);
    expect(url('prod-ap-southeast-2')).toMatch(/^\{"Fn::Join":\["",\["http:\/\//);
  });

  test('the smoke test of that stage checks the certificate against tlsHostName; the others call plain HTTP', () => {
    const smoke = Object.values(s.pipeline.findResources('AWS::CodeBuild::Project'))
      .map((p) => JSON.stringify(p))
      .filter((p) => p.includes('smoke-test.cjs'));
    expect(smoke).toHaveLength(4);
    const tls = smoke.filter((p) => p.includes('--tls-host-name hello.example.com'));
    expect(tls).toHaveLength(1);
    expect(tls[0]).toContain('SmokeAndBake-prod-us-east-1');
  });
});
