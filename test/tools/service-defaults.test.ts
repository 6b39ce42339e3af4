import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { findEnvironment, loadConfig } from '../../lib/config';
import { imageTagFor } from '../../lib/image/tag';
import { defaultAuditSpoolDir } from '../../tools/operator/breakglass/main';
import { workloadScope } from '../../tools/operator/breakglass/scope';
import { REPO_ROOT, TSX_CLI } from '../support/paths';

/**
 * Issue 24: the tools find the service's names in the config, never in constants. With the
 * second service's config (config/example-orders-api.json), nothing a tool defaults to or prints
 * names the default service.
 */
const ORDERS_CONFIG = 'config/example-orders-api.json';
const config = loadConfig({ contextValue: ORDERS_CONFIG, cwd: REPO_ROOT, repoRoot: REPO_ROOT });
const preprod = findEnvironment(config, 'preprod-eu-west-1');

test('breakglass: the workload scope and the local audit spool belong to the service', () => {
  expect(workloadScope(preprod).namespace).toBe('orders-api');
  expect(defaultAuditSpoolDir(config.names.breakglassStateDir, { XDG_STATE_HOME: '/state' })).toBe(
    '/state/orders-api-breakglass',
  );
});

test('preflight assumes roles under a session named after the service', () => {
  expect(config.names.preflightSessionName).toBe('orders-api-preflight');
});

test('npm run manifests: every environment of the second service, and nothing of the default one', () => {
  const out = fs.mkdtempSync(path.join(REPO_ROOT, 'cdk.out.test-'));
  try {
    const r = spawnSync(
      process.execPath,
      [TSX_CLI, 'tools/dev/manifests.ts', '--config', ORDERS_CONFIG, '--out-dir', out],
      { cwd: REPO_ROOT, encoding: 'utf8', timeout: 60000 },
    );
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const files = fs.readdirSync(out).sort();
    expect(files).toEqual(['preprod-eu-west-1.yaml', 'prod-eu-west-1.yaml', 'prod-us-east-1.yaml']);
    for (const f of files) {
      const text = fs.readFileSync(path.join(out, f), 'utf8');
      expect(text).not.toMatch(/hello-?web/i);
      const docs = parseAllDocuments(text).map(
        (d) =>
          d.toJS() as {
            kind: string;
            metadata: { name: string; namespace?: string };
            spec?: { template?: { spec?: { containers?: Array<{ image: string }> } } };
          },
      );
      for (const d of docs)
        expect(d.metadata).toEqual(
          expect.objectContaining(
            d.kind === 'Namespace'
              ? { name: 'orders-api' }
              : { name: 'orders-api', namespace: 'orders-api' },
          ),
        );
      const image = docs.find((d) => d.kind === 'Deployment')!.spec!.template!.spec!.containers![0]
        .image;
      // the repository is the service's, the tag the fingerprint of its directory
      expect(image).toMatch(
        new RegExp(
          `^111111111111\\.dkr\\.ecr\\.[a-z0-9-]+\\.amazonaws\\.com/orders-api:${imageTagFor(path.join(REPO_ROOT, config.service.appDir))}$`,
        ),
      );
    }
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
});
