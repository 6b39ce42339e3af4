import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DockerIgnoreStrategy } from 'aws-cdk-lib';

/**
 * The image tag is a fingerprint of what goes into the image: every file under `app/` that the
 * Docker build context receives (app/.dockerignore applied), the Dockerfile included. Same source,
 * same tag, so an unchanged `app/` rebuilds nothing and every environment runs the same bytes.
 * Computed at synth, offline, without git (the pipeline's synth runs on a source zip).
 */
export function imageTagFor(appDir: string): string {
  const root = path.resolve(appDir);
  const dockerignore = readDockerignore(root);
  // Docker always sends the Dockerfile and .dockerignore, whatever .dockerignore says (an
  // allowlist such as `*` + `!*.go` would otherwise hide a base-image bump from the tag).
  const ignore = (p: string) => !ALWAYS_IN_CONTEXT.includes(p) && dockerignore(p);
  const hash = createHash('sha256');
  const files = listFiles(root, '')
    .filter((rel) => !ignore(rel))
    .sort();
  if (files.length === 0)
    throw new Error(`no files found under ${appDir}: cannot fingerprint the image source`);
  for (const rel of files) {
    hash.update(rel).update('\0');
    hash.update(fs.readFileSync(path.join(root, rel))).update('\0');
  }
  return `app-${hash.digest('hex').slice(0, 16)}`;
}

const ALWAYS_IN_CONTEXT = ['Dockerfile', '.dockerignore'];

/**
 * Every file under `root`. Directories are not pruned by .dockerignore: Docker lets an exception
 * (`!dir/keep.go`) bring a file back from an ignored directory, so each file is matched on its own.
 */
function listFiles(root: string, rel: string): string[] {
  const out: string[] = [];
  for (const entry of fs.readdirSync(path.join(root, rel), { withFileTypes: true })) {
    const p = rel === '' ? entry.name : `${rel}/${entry.name}`;
    if (entry.isDirectory()) out.push(...listFiles(root, p));
    else if (entry.isFile()) out.push(p);
  }
  return out;
}

/**
 * `.dockerignore` with Docker's own matching rules, through aws-cdk-lib's DockerIgnoreStrategy
 * (what DockerImageAsset fingerprints with), not a hand-written glob matcher.
 */
export function readDockerignore(appDir: string): (relPath: string) => boolean {
  const root = path.resolve(appDir);
  const file = path.join(root, '.dockerignore');
  const patterns = fs.existsSync(file)
    ? fs
        .readFileSync(file, 'utf8')
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l !== '' && !l.startsWith('#'))
    : [];
  const strategy = new DockerIgnoreStrategy(root, patterns);
  return (relPath) => strategy.ignores(path.join(root, relPath));
}

/** The file the synth writes into the cloud assembly for the image build and the gates: `image.json`. */
export const IMAGE_ARTIFACT_FILE = 'image.json';

export interface ImageArtifact {
  readonly repositoryName: string;
  readonly tag: string;
}

/**
 * The image's URI in one region's replica: the repository lives in the pipeline account and is
 * replicated to every stage region, so a stage pulls from its own region.
 */
export function imageUri(image: {
  readonly registryAccount: string;
  readonly region: string;
  readonly urlSuffix: string;
  readonly repositoryName: string;
  readonly tag: string;
}): string {
  return `${image.registryAccount}.dkr.ecr.${image.region}.${image.urlSuffix}/${image.repositoryName}:${image.tag}`;
}
