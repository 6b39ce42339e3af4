import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * The image tag is a fingerprint of what goes into the image: every file under `app/` that the
 * Docker build context receives (app/.dockerignore applied), the Dockerfile included. Same source,
 * same tag, so an unchanged `app/` rebuilds nothing and every environment runs the same bytes.
 * Computed at synth, offline, without git (the pipeline's synth runs on a source zip).
 */
export function imageTagFor(appDir: string): string {
  const dockerignore = readDockerignore(appDir);
  // Docker always sends the Dockerfile and .dockerignore, whatever .dockerignore says (an
  // allowlist such as `*` + `!*.go` would otherwise hide a base-image bump from the tag).
  const ignore = (p: string) => !ALWAYS_IN_CONTEXT.includes(p) && dockerignore(p);
  const hash = createHash('sha256');
  const files = listFiles(appDir, '', ignore).sort();
  if (files.length === 0) throw new Error(`no files found under ${appDir}: cannot fingerprint the image source`);
  for (const rel of files) {
    hash.update(rel).update('\0');
    hash.update(fs.readFileSync(path.join(appDir, rel))).update('\0');
  }
  return `app-${hash.digest('hex').slice(0, 16)}`;
}

const ALWAYS_IN_CONTEXT = ['Dockerfile', '.dockerignore'];

function listFiles(root: string, rel: string, ignore: (p: string) => boolean): string[] {
  const out: string[] = [];
  for (const entry of fs.readdirSync(path.join(root, rel), { withFileTypes: true })) {
    const p = rel === '' ? entry.name : `${rel}/${entry.name}`;
    if (ignore(p)) continue;
    if (entry.isDirectory()) out.push(...listFiles(root, p, ignore));
    else if (entry.isFile()) out.push(p);
  }
  return out;
}

/** The subset of .dockerignore syntax this repository uses: paths and globs (`*`, `**`, `?`), `!` exceptions. */
export function readDockerignore(appDir: string): (relPath: string) => boolean {
  const file = path.join(appDir, '.dockerignore');
  const lines = fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n') : [];
  const rules = lines
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => {
      const negate = l.startsWith('!');
      const pattern = (negate ? l.slice(1) : l).replace(/^\/+/, '').replace(/\/+$/, '');
      return { negate, re: globToRegExp(pattern) };
    });
  return (relPath) => {
    let ignored = false;
    for (const { negate, re } of rules) {
      // a pattern matching a directory ignores everything below it
      const parts = relPath.split('/');
      const hit = parts.some((_, i) => re.test(parts.slice(0, i + 1).join('/')));
      if (hit) ignored = !negate;
    }
    return ignored;
  };
}

function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === '*' && glob[i + 1] === '*') {
      re += '.*';
      i++;
      if (glob[i + 1] === '/') i++;
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
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
export function imageUri(image: { readonly registryAccount: string; readonly region: string; readonly urlSuffix: string; readonly repositoryName: string; readonly tag: string }): string {
  return `${image.registryAccount}.dkr.ecr.${image.region}.${image.urlSuffix}/${image.repositoryName}:${image.tag}`;
}
