import { type AuditRecord, outstandingChanges } from '../../../tools/common/breakglass-audit';
import {
  diffObjectSets,
  objectsDigest,
  parseObjects,
} from '../../../tools/common/manifest-objects';

/**
 * Which breakglass changes still block a deploy (outstandingChanges), and how manifests compare
 * (prune label aside, by object and field). The AWS side of both is exercised against moto in
 * test/tools/pipeline/breakglass-check/check.moto.test.ts; these are the rules themselves.
 */
const base = {
  environment: 'prod-x',
  who: 'arn:aws:sts::1:assumed-role/Ops/a',
  reason: 'INC',
  action: 'image',
} as const;
const rec = (over: Partial<AuditRecord> & Pick<AuditRecord, 'runId' | 'result' | 'at'>) => ({
  ...base,
  ...over,
});

describe('outstanding breakglass changes', () => {
  test('a stored change is outstanding while S3 holds its version or its metadata; a later pipeline version settles it', () => {
    const a = rec({
      runId: 'a',
      result: 'SUCCEEDED',
      at: '1',
      s3VersionBefore: 'v0',
      s3VersionAfter: 'v1',
    });
    expect(outstandingChanges([a], { versionId: 'v1', breakglassRun: 'a' })).toEqual([a]);
    // a hand upload with the run's metadata (the APPLIED_NOT_STORED advice) keeps it outstanding
    expect(outstandingChanges([a], { versionId: 'v9', breakglassRun: 'a' })).toEqual([a]);
    // the pipeline's deploy wrote v2 (no metadata)
    expect(outstandingChanges([a], { versionId: 'v2' })).toEqual([]);
  });

  test('changes that did not store (FAILED, INCOMPLETE, PENDING of a dead run, ABANDONED, APPLIED_NOT_STORED) stay outstanding until S3 moves on', () => {
    const records = [
      rec({ runId: 'f', result: 'FAILED', at: '1', s3VersionBefore: 'v0' }),
      rec({ runId: 'i', result: 'INCOMPLETE', at: '2', s3VersionBefore: 'v0' }),
      rec({ runId: 'p', result: 'PENDING', at: '3', s3VersionBefore: 'v0' }),
      rec({ runId: 'x', result: 'ABANDONED', at: '4', s3VersionBefore: 'v0' }),
      rec({
        runId: 'n',
        result: 'APPLIED_NOT_STORED',
        at: '5',
        s3VersionBefore: 'vOld',
        s3VersionFound: 'v0',
      }),
    ];
    expect(outstandingChanges(records, { versionId: 'v0' }).map((r) => r.runId)).toEqual([
      'f',
      'i',
      'p',
      'x',
      'n',
    ]);
    expect(outstandingChanges(records, { versionId: 'v1' })).toEqual([]);
  });

  test('a later breakglass run supersedes an earlier one (it applied the whole manifest); a reconciled one is settled', () => {
    const a = rec({
      runId: 'a',
      result: 'SUCCEEDED',
      at: '1',
      s3VersionBefore: 'v0',
      s3VersionAfter: 'v1',
    });
    const b = rec({
      runId: 'b',
      result: 'SUCCEEDED',
      at: '2',
      s3VersionBefore: 'v1',
      s3VersionAfter: 'v2',
    });
    const stored = { versionId: 'v2', breakglassRun: 'b' };
    expect(outstandingChanges([a, b], stored).map((r) => r.runId)).toEqual(['b']);
    const r = rec({
      runId: 'r',
      result: 'RECONCILED',
      at: '3',
      reconciles: 'b',
      action: 'reconcile',
    });
    expect(outstandingChanges([a, b, r], stored)).toEqual([]);
  });
});

describe('manifests compared by object and field', () => {
  const deployment = (image: string, labels: Record<string, string> = {}) =>
    `apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: ns\n  labels: ${JSON.stringify({ app: 'web', ...labels })}\nspec:\n  template:\n    spec:\n      containers:\n        - name: web\n          image: ${image}\n        - name: side\n          image: side:1\n`;

  test('the CDK prune label is no difference; key order is none either', () => {
    const a = parseObjects(deployment('r/web:1'), 'a');
    const b = parseObjects(deployment('r/web:1', { 'aws.cdk.eks/prune-c8abc': '' }), 'b');
    expect(diffObjectSets(a, b)).toEqual([]);
    expect(objectsDigest(a)).toBe(objectsDigest(b));
  });

  test('a changed field is named by its path, containers by name; a missing object by its side', () => {
    const a = parseObjects(deployment('r/web:1'), 'a');
    const b = parseObjects(
      `${deployment('r/web:2')}---\napiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  namespace: ns\n`,
      'b',
    );
    expect(diffObjectSets(a, b)).toEqual([
      {
        object: 'Deployment ns/web',
        change: 'fields',
        fields: [
          { path: 'spec.template.spec.containers[web].image', left: 'r/web:1', right: 'r/web:2' },
        ],
      },
      { object: 'Service ns/web', change: 'missing-left', fields: [] },
    ]);
    expect(objectsDigest(a)).not.toBe(objectsDigest(b));
  });
});
