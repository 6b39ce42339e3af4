import * as fs from 'node:fs';
import * as path from 'node:path';
import { ResourceImpact, fullDiff } from '@aws-cdk/cloudformation-diff';
import { notificationTopicName } from '../../lib/config';
import { REPO_ROOT } from '../support/paths';
import { type Synthesized, synthesize } from '../support/synth';

// What the docs say about replacing deployed resources, against what CloudFormation would do:
// the synthesized templates, diffed with the CDK's own diff library (`cdk diff`), which reads each
// property's update behaviour from AWS's resource specification. A named resource whose name a
// deployed stack does not have yet is replaced on that stack's next update.

let s: Synthesized;
beforeAll(() => {
  s = synthesize();
}, 300_000);

type Template = { Resources: Record<string, { Type: string; Properties?: Record<string, unknown> }> };

/** The doc files a user reads for what an upgrade does, as paragraphs and list items. */
function paragraphs(): Array<{ file: string; p: string }> {
  const dir = path.join(REPO_ROOT, 'docs');
  const files = fs
    .readdirSync(dir, { recursive: true })
    .map(String)
    .filter((f) => f.endsWith('.md'))
    .map((f) => path.join('docs', f));
  return [...files, 'CHANGELOG.md', 'README.md'].flatMap((file) =>
    fs
      .readFileSync(path.join(REPO_ROOT, file), 'utf8')
      .split(/\n\s*\n|\n(?=\s*(?:[-*]|\d+\.) )/)
      .map((p) => ({ file, p: p.replace(/\s+/g, ' ').trim() })),
  );
}

test('the notification topic, named <pipeline.name>-notifications since ADR 0032, is replaced once in a pipeline deployed before that, and no doc says it is not replaced', () => {
  const template = s.pipeline.toJSON() as Template;
  const [id] = Object.entries(template.Resources).find(([, r]) => r.Type === 'AWS::SNS::Topic')!;
  expect(template.Resources[id].Properties?.TopicName).toBe(
    notificationTopicName(s.config.pipeline.name),
  );
  // A pipeline stack deployed before: the same logical id, a name CloudFormation generated.
  const before = structuredClone(template);
  delete before.Resources[id].Properties!.TopicName;
  const change = fullDiff(before, template).resources.get(id);
  expect(change.changeImpact).toBe(ResourceImpact.WILL_REPLACE);

  const wrong = paragraphs()
    .filter(({ p }) => /\btopic is not replaced\b|\bnot replac\w* the topic/i.test(p))
    .map(({ file, p }) => `${file}: ${p.slice(0, 200)}`);
  expect(wrong).toEqual([]);
});

test('a doc that says the default keeps every physical name also says which one it does not keep (the topic)', () => {
  // A claim ("keeps"), not the requirement ("must keep").
  const claims = paragraphs().filter(({ p }) => /\bkeeps every physical name/i.test(p));
  expect(claims.length).toBeGreaterThan(0);
  expect(
    claims
      .filter(({ p }) => !/notification topic/i.test(p))
      .map(({ file, p }) => `${file}: ${p.slice(0, 200)}`),
  ).toEqual([]);
});
