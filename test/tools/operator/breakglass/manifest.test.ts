import * as fs from 'node:fs';
import * as path from 'node:path';
import { structuredPatch } from 'diff';
import { DEFAULT_SERVICE } from '../../../../lib/config';
import { renderWorkload, toYaml } from '../../../../lib/manifests/workload';
import { EXIT_FAILED, EXIT_USAGE } from '../../../../tools/common/errors';
import {
  checkImageTag,
  checkReplacementManifest,
  findWebImage,
  replaceWebImageTag,
  withTag,
} from '../../../../tools/operator/breakglass/manifest';

const FIXTURE = fs.readFileSync(path.join(__dirname, 'fixtures', 'manifests.yaml'), 'utf8');
const REPO = '123456789012.dkr.ecr.eu-west-1.amazonaws.com/hello-web';

function changedLines(before: string, after: string): string[] {
  return structuredPatch('a', 'b', before, after).hunks.flatMap((h) =>
    h.lines.filter((l) => l.startsWith('+') || l.startsWith('-')),
  );
}

describe('--image: changing the web container tag', () => {
  test('changes the image tag and the pod version label, and no other byte', () => {
    const res = replaceWebImageTag(FIXTURE, 'fixture', 'app-2222222222222222');
    expect(res.before).toBe(`${REPO}:app-1111111111111111`);
    expect(res.after).toBe(`${REPO}:app-2222222222222222`);
    expect(changedLines(FIXTURE, res.text)).toEqual([
      '-        app.kubernetes.io/version: app-1111111111111111',
      '+        app.kubernetes.io/version: app-2222222222222222',
      '-          image: 123456789012.dkr.ecr.eu-west-1.amazonaws.com/hello-web:app-1111111111111111',
      '+          image: 123456789012.dkr.ecr.eu-west-1.amazonaws.com/hello-web:app-2222222222222222',
    ]);
  });

  test('works on what the live renderer (lib/manifests/workload.ts) produces', () => {
    const live = toYaml(
      renderWorkload({
        service: DEFAULT_SERVICE,
        image: `${REPO}:app-aaaa`,
        imageTag: 'app-aaaa',
        greeting: 'Hi',
        replicas: { min: 3, max: 6, targetCpuPercent: 70 },
        kubernetesVersion: '1.35',
      }),
    );
    const res = replaceWebImageTag(live, 'live', 'app-bbbb');
    expect(findWebImage(res.text, 'live')).toBe(`${REPO}:app-bbbb`);
    expect(changedLines(live, res.text)).toHaveLength(4);
  });

  test('keeps the quoting style of the image value', () => {
    const quoted = FIXTURE.replace(
      `image: ${REPO}:app-1111111111111111`,
      `image: "${REPO}:app-1111111111111111"`,
    );
    const res = replaceWebImageTag(quoted, 'fixture', 'v2');
    expect(res.text).toContain(`image: "${REPO}:v2"`);
  });

  test('keeps the repository (with a registry port) and drops a digest that would pin the old image', () => {
    expect(withTag('registry.local:5000/team/web:1.0', '1.1')).toBe(
      'registry.local:5000/team/web:1.1',
    );
    expect(withTag('registry.local:5000/team/web', '1.1')).toBe('registry.local:5000/team/web:1.1');
    expect(withTag(`${REPO}:old@sha256:${'a'.repeat(64)}`, 'new')).toBe(`${REPO}:new`);
  });

  test('leaves a version label that did not name the old tag alone', () => {
    const relabelled = FIXTURE.replace(
      'app.kubernetes.io/version: app-1111111111111111',
      'app.kubernetes.io/version: hand-set',
    );
    const res = replaceWebImageTag(relabelled, 'fixture', 'v3');
    expect(res.text).toContain('app.kubernetes.io/version: hand-set');
    expect(changedLines(relabelled, res.text)).toHaveLength(2);
  });

  test('no Deployment with a web container is an error (exit 1) pointing at --manifest', () => {
    const noWeb = FIXTURE.replace('- name: web', '- name: api');
    expect(() => replaceWebImageTag(noWeb, 's3://b/k', 'v2')).toThrow(
      /s3:\/\/b\/k has no Deployment with a container named "web"; use --manifest/,
    );
    try {
      replaceWebImageTag(noWeb, 's3://b/k', 'v2');
    } catch (e) {
      expect((e as { exitCode: number }).exitCode).toBe(EXIT_FAILED);
    }
  });

  test('a stored manifest that is not valid YAML is reported with its document number', () => {
    expect(() => replaceWebImageTag(`${FIXTURE}---\nkind: [unclosed\n`, 's3://b/k', 'v2')).toThrow(
      /s3:\/\/b\/k: document 7 is not valid YAML/,
    );
  });

  test.each([
    '',
    'has space',
    '-leading-dash',
    '.dot',
    'a/b',
    'x:y',
    'a'.repeat(129),
    'tag@sha256',
  ])('rejects the tag %j', (tag) => {
    expect(() => checkImageTag(tag)).toThrow(/is not a valid image tag/);
  });

  test.each(['app-0123456789abcdef', 'v1.2.3', '_x', 'A'.repeat(128)])(
    'accepts the tag %j',
    (tag) => {
      expect(checkImageTag(tag)).toBe(tag);
    },
  );
});

describe('--manifest: checking a replacement', () => {
  test('the rendered manifests pass', () => {
    expect(() => checkReplacementManifest(FIXTURE, 'f.yaml')).not.toThrow();
  });

  test('every object needs apiVersion, kind and metadata.name; all problems are listed (exit 2)', () => {
    const bad =
      'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ok\n---\nkind: Service\nmetadata: {}\n---\n- a list\n';
    let caught: (Error & { exitCode?: number }) | undefined;
    try {
      checkReplacementManifest(bad, 'bad.yaml');
    } catch (e) {
      caught = e as Error & { exitCode?: number };
    }
    expect(caught?.message).toBe(
      'bad.yaml is not a Kubernetes manifest: document 2 (Service) has no apiVersion, metadata.name; document 3 is not a mapping',
    );
    expect(caught?.exitCode).toBe(EXIT_USAGE);
  });

  test('invalid YAML and an empty file are refused', () => {
    expect(() => checkReplacementManifest('a: [1, 2\n', 'broken.yaml')).toThrow(
      /broken.yaml: document 1 is not valid YAML/,
    );
    expect(() => checkReplacementManifest('# nothing\n', 'empty.yaml')).toThrow(
      /holds no YAML document/,
    );
  });

  test('a trailing document separator is not an object', () => {
    expect(() => checkReplacementManifest(`${FIXTURE}---\n`, 'f.yaml')).not.toThrow();
  });
});
