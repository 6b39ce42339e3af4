import { GetParameterCommand, ParameterNotFound, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { KUBERNETES_VERSIONS, STACK_ENVIRONMENTS } from '../../../../lib/config';
import { memoryOutput } from '../../../../tools/common/output';
import { runCli } from '../../../../tools/common/run';
import {
  type NodeUpdatesDeps,
  nodeUpdatesMain,
} from '../../../../tools/operator/node-updates/main';
import { parseReleaseVersion } from '../../../../tools/operator/node-updates/releases';
import { REPO_ROOT } from '../../../support/paths';

/**
 * `npm run node-updates` against a mocked Systems Manager: each region answers its own
 * recommended release. The default config has pre-prod and prod in eu-west-1, prod in us-east-1
 * and ap-southeast-2, all on 1.35 and arm64.
 */

const ssm = mockClient(SSMClient);
const PINNED = parseReleaseVersion(KUBERNETES_VERSIONS['1.35'].nodeAmiReleaseVersion)!;
const DAY = 86_400_000;
const ARM64_PARAMETER =
  '/aws/service/eks/optimized-ami/1.35/amazon-linux-2023/arm64/standard/recommended/release_version';

/** A 1.35 release `days` after the pinned one (one Kubernetes patch later). */
function releaseAfter(days: number): string {
  const d = new Date(PINNED.releasedAt + days * DAY).toISOString().slice(0, 10).replace(/-/g, '');
  return `1.35.${PINNED.patch + 1}-${d}`;
}

/** A parameter value, a failure, or the string 'hang': the call never answers. */
type Answer = string | Error;

/** Each region's answer to GetParameter; records the (region, name) of every call. */
function answer(byRegion: Record<string, Answer>): Array<{ region: string; name: string }> {
  const calls: Array<{ region: string; name: string }> = [];
  ssm.on(GetParameterCommand).callsFake(async (input: { Name: string }, getClient) => {
    const region = await getClient().config.region();
    calls.push({ region, name: input.Name });
    const a = byRegion[region];
    if (a === undefined) throw new Error(`test: no answer for ${region}`);
    if (a === 'hang') return new Promise(() => undefined);
    if (a instanceof Error) throw a;
    return {
      Parameter: { Name: input.Name, Value: a, LastModifiedDate: new Date(Date.UTC(2026, 10, 21)) },
    };
  });
  return calls;
}

async function run(
  argv: string[],
  options: { daysAfterPinned: number; deps?: Partial<NodeUpdatesDeps> },
) {
  const output = memoryOutput();
  const deps: NodeUpdatesDeps = {
    ssm: (region) =>
      new SSMClient({ region, credentials: { accessKeyId: 'x', secretAccessKey: 'y' } }),
    now: () => PINNED.releasedAt + options.daysAfterPinned * DAY + 3_600_000,
    output,
    cwd: REPO_ROOT,
    repoRoot: REPO_ROOT,
    callTimeoutMs: 200,
    ...options.deps,
  };
  const code = await runCli('node-updates', () => nodeUpdatesMain(argv, deps), output);
  return { code, ...output };
}

const everywhere = (value: Answer): Record<string, Answer> => ({
  'eu-west-1': value,
  'us-east-1': value,
  'ap-southeast-2': value,
});

beforeEach(() => ssm.reset());

test('every region recommends the pinned release: exit 0, one call per region and parameter', async () => {
  const calls = answer(everywhere(PINNED.text));
  const r = await run([], { daysAfterPinned: 90 });
  expect(r.code).toBe(0);
  expect(r.stdout).toContain(
    'node-updates: OK every environment runs the recommended node AMI release',
  );
  expect(r.stdout).toMatch(
    new RegExp(
      `prod-ap-southeast-2 +ap-southeast-2 +1\\.35 +${PINNED.text.replace(/\./g, '\\.')} \\(90 d\\).*CURRENT`,
    ),
  );
  expect(calls.map((c) => c.region).sort()).toEqual(['ap-southeast-2', 'eu-west-1', 'us-east-1']);
  expect(new Set(calls.map((c) => c.name))).toEqual(new Set([ARM64_PARAMETER]));
  expect(r.stdout).not.toContain('Catalog change');
});

test('a newer release and a pin older than 30 days: exit 1, and the exact catalog line to change', async () => {
  answer(everywhere(releaseAfter(14)));
  const r = await run([], { daysAfterPinned: 40 });
  expect(r.code).toBe(1);
  expect(r.stdout).toContain(
    `Catalog change for Kubernetes 1.35 (lib/config/kubernetes-versions.ts, entry '1.35'):\n-    nodeAmiReleaseVersion: '${PINNED.text}',\n+    nodeAmiReleaseVersion: '${releaseAfter(14)}',`,
  );
  expect(r.stderr).toContain(
    'node-updates: STALE preprod-eu-west-1, prod-eu-west-1, prod-us-east-1, prod-ap-southeast-2 run a node AMI older than 30 days with a newer release available',
  );
  expect(r.stdout).toMatch(/prod-us-east-1 .*\(40 d\).*\(2026-11-21\) +STALE/);
});

test('a newer release while the pin is within --max-age-days: exit 0, the change is still shown; a shorter limit makes it stale', async () => {
  answer(everywhere(releaseAfter(7)));
  const within = await run([], { daysAfterPinned: 10 });
  expect(within.code).toBe(0);
  expect(within.stdout).toContain(`+    nodeAmiReleaseVersion: '${releaseAfter(7)}',`);
  expect(within.stdout).toMatch(/BEHIND/);
  expect(within.stdout).toContain(
    'node-updates: OK every node AMI is within 30 days; a newer release is out for',
  );

  const strict = await run(['--max-age-days', '5'], { daysAfterPinned: 10 });
  expect(strict.code).toBe(1);
  expect(strict.stderr).toContain('older than 5 days');
});

test('regions recommend different releases: pin the newest one every region has', async () => {
  answer({
    'eu-west-1': releaseAfter(7),
    'us-east-1': releaseAfter(21),
    'ap-southeast-2': releaseAfter(7),
  });
  const r = await run([], { daysAfterPinned: 45 });
  expect(r.code).toBe(1);
  expect(r.stdout).toContain(`+    nodeAmiReleaseVersion: '${releaseAfter(7)}',`);
  expect(r.stdout).toContain(
    `(us-east-1 already recommends a newer release; ${releaseAfter(7)} is the newest every region on 1.35 recommends.)`,
  );
});

test('a region that recommends an older release than the pin: exit 1, the deploy there may be refused', async () => {
  answer({
    'eu-west-1': PINNED.text,
    'us-east-1': PINNED.text,
    'ap-southeast-2': `1.35.${PINNED.patch}-20250101`,
  });
  const r = await run([], { daysAfterPinned: 3 });
  expect(r.code).toBe(1);
  expect(r.stderr).toContain(
    `prod-ap-southeast-2: ap-southeast-2 recommends 1.35.${PINNED.patch}-20250101, older than the pinned ${PINNED.text}`,
  );
  expect(r.stderr).toContain(
    'node-updates: STALE prod-ap-southeast-2 pins a release its region does not recommend yet',
  );
});

test('a parameter that does not exist: exit 3 (could not check) naming it; the other regions are still reported', async () => {
  answer({
    ...everywhere(PINNED.text),
    'ap-southeast-2': new ParameterNotFound({ message: 'not found', $metadata: {} }),
  });
  const r = await run([], { daysAfterPinned: 1 });
  expect(r.code).toBe(3);
  expect(r.stderr).toContain(
    `prod-ap-southeast-2: ${ARM64_PARAMETER} does not exist in ap-southeast-2`,
  );
  expect(r.stderr).toContain('node-updates: ERROR could not check prod-ap-southeast-2');
  expect(r.stdout).toMatch(/prod-us-east-1 .*CURRENT/);
  expect(r.stdout).toMatch(/prod-ap-southeast-2 .*NOT CHECKED/);
});

test('a region that does not answer is abandoned after the call timeout: exit 3, never a hang', async () => {
  answer({ ...everywhere(PINNED.text), 'us-east-1': 'hang' });
  const r = await run([], { daysAfterPinned: 1 });
  expect(r.code).toBe(3);
  expect(r.stderr).toMatch(
    /prod-us-east-1: GetParameter .* in us-east-1 failed: .*no answer within/,
  );
});

test('access denied and unexpected values: exit 3 with a line an operator can act on', async () => {
  const denied = Object.assign(new Error('User is not authorized to perform ssm:GetParameter'), {
    name: 'AccessDeniedException',
    $metadata: { httpStatusCode: 400 },
  });
  answer({
    'eu-west-1': denied,
    'us-east-1': 'ami-0123456789abcdef0',
    'ap-southeast-2': '1.34.2-20260714',
  });
  const r = await run([], { daysAfterPinned: 1 });
  expect(r.code).toBe(3);
  expect(r.stderr).toMatch(/preprod-eu-west-1: .*access denied/);
  expect(r.stderr).toContain('holds "ami-0123456789abcdef0", not a release version');
  expect(r.stderr).toContain('names release 1.34.2-20260714, not one of Kubernetes 1.35');
  expect(r.stderr).not.toMatch(/\n\s+at /);
});

test('-c config=<file> as for cdk synth: an x86_64 configuration reads the x86_64 parameter of its own regions', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'node-updates-'));
  const config = {
    ...STACK_ENVIRONMENTS,
    image: { architecture: 'amd64' },
    preprod: {
      account: '222222222222',
      region: 'eu-central-1',
      nodes: { instanceType: 'm7i.large' },
    },
    prod: {
      waves: [
        [{ account: '333333333333', region: 'eu-central-1', nodes: { instanceType: 'm7i.large' } }],
      ],
    },
  };
  fs.writeFileSync(path.join(dir, 'amd64.json'), JSON.stringify(config));
  const calls = answer({ 'eu-central-1': PINNED.text });
  const r = await run(['-c', 'config=amd64.json'], {
    daysAfterPinned: 1,
    deps: { cwd: dir, repoRoot: dir },
  });
  expect(r.code).toBe(0);
  expect(calls).toEqual([
    {
      region: 'eu-central-1',
      name: '/aws/service/eks/optimized-ami/1.35/amazon-linux-2023/x86_64/standard/recommended/release_version',
    },
  ]);
});

test('bad usage and a bad config are exit 2 before any AWS call', async () => {
  const calls = answer(everywhere(PINNED.text));
  const repeated = await run(['--max-age-days', '3', '--max-age-days', '4'], {
    daysAfterPinned: 1,
  });
  expect(repeated.code).toBe(2);
  expect(repeated.stderr).toContain('node-updates: error: --max-age-days is given twice');
  const missing = await run(['-c', 'config=does-not-exist.json'], { daysAfterPinned: 1 });
  expect(missing.code).toBe(2);
  expect(missing.stderr).toContain('does not exist');
  expect(calls).toEqual([]);
});

test('a huge value from AWS (1 MB, with escape sequences) is shown truncated and escaped, once per region at most a line', async () => {
  // Issue 27: a 1 MB parameter value was echoed whole, once per region (7 MB on stderr).
  answer(everywhere(`\u001b[31m${'x'.repeat(1024 * 1024)}`));
  const r = await run([], { daysAfterPinned: 10 });
  expect(r.code).toBe(3);
  expect(r.all.length).toBeLessThan(16 * 1024);
  expect(r.all).not.toContain('\u001b');
  expect(r.stderr).toContain('\\x1b[31mxxxx');
  expect(r.stderr).toMatch(/1048581 characters/);
});

test('--json: the report as one JSON document on stdout, every other line on stderr', async () => {
  answer(everywhere(releaseAfter(14)));
  const r = await run(['--json'], { daysAfterPinned: 40 });
  expect(r.code).toBe(1);
  const doc = JSON.parse(r.stdout) as {
    command: string;
    exitCode: number;
    environments: Array<{ environment: string; status: string; latest: string }>;
    catalogChanges: Array<{ kubernetesVersion: string; from: string; to: string }>;
  };
  expect(doc).toMatchObject({ command: 'node-updates', exitCode: 1 });
  expect(doc.environments.map((e) => [e.environment, e.status, e.latest])).toEqual(
    ['preprod-eu-west-1', 'prod-eu-west-1', 'prod-us-east-1', 'prod-ap-southeast-2'].map((e) => [
      e,
      'STALE',
      releaseAfter(14),
    ]),
  );
  expect(doc.catalogChanges).toEqual([
    { kubernetesVersion: '1.35', from: PINNED.text, to: releaseAfter(14) },
  ]);
  expect(r.stderr).toContain('Catalog change for Kubernetes 1.35');
});
