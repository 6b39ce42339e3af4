import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { REPO_ROOT, TSX_CLI } from '../../../support/paths';

/** `npm run manifests`: what breakglass and checkov read, and what an operator pipes into kubectl. */
const run = (...args: string[]) =>
  spawnSync(
    process.execPath,
    [TSX_CLI, path.join(REPO_ROOT, 'tools', 'dev', 'manifests.ts'), ...args],
    {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      timeout: 60000,
    },
  );

test("--env prints that environment's manifests as YAML, with the image from its own region", () => {
  const r = run('--env', 'prod-us-east-1', '--tag', 'app-0000000000000001');
  expect(r.status).toBe(0);
  const docs = parseAllDocuments(r.stdout).map(
    (d) =>
      d.toJS() as {
        kind: string;
        spec?: { template?: { spec?: { containers?: Array<{ image: string }> } } };
      },
  );
  expect(docs.map((d) => d.kind)).toEqual([
    'Namespace',
    'ServiceAccount',
    'NetworkPolicy',
    'Deployment',
    'Service',
    'PodDisruptionBudget',
    'HorizontalPodAutoscaler',
  ]);
  expect(docs[3].spec!.template!.spec!.containers![0].image).toBe(
    '111111111111.dkr.ecr.us-east-1.amazonaws.com/hello-web:app-0000000000000001',
  );
});

test('--out-dir writes one file per environment; an unknown environment is a usage error naming the valid ones', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'manifests-'));
  expect(run('--out-dir', dir).status).toBe(0);
  expect(fs.readdirSync(dir).sort()).toEqual([
    'preprod-eu-west-1.yaml',
    'prod-ap-southeast-2.yaml',
    'prod-eu-west-1.yaml',
    'prod-us-east-1.yaml',
  ]);
  const bad = run('--env', 'prod-mars-1');
  expect(bad.status).toBe(2);
  expect(bad.stderr).toMatch(
    /unknown environment "prod-mars-1"; known: preprod-eu-west-1, prod-eu-west-1, prod-us-east-1, prod-ap-southeast-2/,
  );
});

test('--out-dir under /proc (where a recursive mkdir loops) ends at once with a clear usage error', () => {
  // Issue 27: `--out-dir /proc/x` spun at 100% CPU forever (node's recursive mkdir retries ENOENT).
  const r = run('--out-dir', '/proc/x/y');
  expect(r.signal).toBeNull();
  expect(r.status).toBe(2);
  expect(r.stderr).toContain('--out-dir /proc/x/y: cannot create');
  expect(r.stderr).not.toMatch(/\n\s+at /);
});
