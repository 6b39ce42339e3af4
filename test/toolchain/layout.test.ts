import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ts from 'typescript';
import { PIPELINE_TOOLS } from '../../tools/pipeline/bundle';

/**
 * The layout says who depends on whom (issue 15; README "Layout"): lib/ is built in layers, each
 * importing only itself and the layers below, and tools/ is split by who runs the code. A newcomer
 * reads the direction from the directory names; these tests keep it true.
 */
const ROOT = path.resolve(__dirname, '..', '..');

/** lib/'s layers, lowest first. An import may go to its own layer or a lower one, never higher. */
const LIB_LAYERS: readonly (readonly string[])[] = [
  ['config'],
  ['manifests', 'image', 'aspects'],
  ['constructs'],
  ['stacks'],
  ['stages'],
  ['pipeline'],
  // the app and the cdk-nag acknowledgements it applies to every stack
  ['app.ts', 'nag-acknowledgements.ts'],
];

/** tools/'s parts: who runs them, and what each may import (a path prefix of the repository). */
const TOOL_PARTS: Readonly<Record<string, readonly string[]>> = {
  // shared by every tool: imports nothing above it
  common: ['tools/common', 'lib'],
  // run by the pipeline from bundles without npm ci: of lib/, only the configuration (no constructs)
  pipeline: ['tools/pipeline', 'tools/common', 'lib/config'],
  // run by operators from a clone: preflight synthesizes the app, breakglass renders the workload
  operator: ['tools/operator', 'tools/common', 'lib'],
  // run by developers and the tests: may use any tool
  dev: ['tools', 'lib'],
};

function tracked(...patterns: string[]): string[] {
  return execFileSync(
    'git',
    ['ls-files', '--cached', '--others', '--exclude-standard', '--', ...patterns],
    { cwd: ROOT, encoding: 'utf8' },
  )
    .split('\n')
    .filter(Boolean)
    .filter((f) => fs.existsSync(path.join(ROOT, f)));
}

interface Import {
  readonly from: string;
  /** Repository-relative path of the imported module, without its extension. */
  readonly to: string;
}

/** Every relative import of `file` (static, type-only, dynamic and require), resolved. */
function importsOf(file: string): Import[] {
  const text = fs.readFileSync(path.join(ROOT, file), 'utf8');
  return ts
    .preProcessFile(text, true, true)
    .importedFiles.map((i) => i.fileName)
    .filter((spec) => spec.startsWith('.'))
    .map((spec) => ({ from: file, to: path.posix.join(path.posix.dirname(file), spec) }));
}

/** The lib/ part a repository path belongs to: `lib/config/x` is `config`, `lib/app` is `app.ts`. */
function libPart(p: string): string {
  const [, first, second] = p.split('/');
  return second === undefined && !fs.existsSync(path.join(ROOT, 'lib', first))
    ? `${first.replace(/\.ts$/, '')}.ts`
    : first;
}

const layerOf = (part: string): number => LIB_LAYERS.findIndex((l) => l.includes(part));
const show = (i: Import): string => `${i.from} imports ${i.to}`;

describe('lib/: layers that import only downwards', () => {
  const files = tracked('lib/*.ts');
  const imports = files.flatMap(importsOf);

  it('every file under lib/ belongs to a layer', () => {
    const unplaced = [...new Set(files.map(libPart))].filter((p) => layerOf(p) < 0);
    expect(unplaced).toEqual([]);
  });

  it(`no import goes up a layer (${LIB_LAYERS.map((l) => l.join(', ')).join(' < ')})`, () => {
    const upwards = imports
      .filter((i) => i.to.startsWith('lib/'))
      .filter((i) => layerOf(libPart(i.to)) > layerOf(libPart(i.from)))
      .map((i) => `${show(i)} (${libPart(i.from)} is below ${libPart(i.to)})`);
    expect(upwards).toEqual([]);
  });

  it('imports nothing from tools/, scripts/, bin/, bench/ or test/', () => {
    expect(imports.filter((i) => !i.to.startsWith('lib/')).map(show)).toEqual([]);
  });
});

describe('tools/: laid out by who runs it', () => {
  const files = tracked('tools');

  it('every tool lives under tools/pipeline, tools/operator, tools/dev or tools/common', () => {
    const parts = Object.keys(TOOL_PARTS);
    expect(
      files.filter((f) => !parts.includes(f.split('/')[1]) || f.split('/').length < 3),
    ).toEqual([]);
  });

  it.each(Object.entries(TOOL_PARTS).map(([part, allowed]) => [part, allowed.join(', ')]))(
    'tools/%s imports only %s',
    (part) => {
      const wrong = tracked(`tools/${part}/*.ts`)
        .flatMap(importsOf)
        .filter((i) => !TOOL_PARTS[part].some((p) => i.to === p || i.to.startsWith(`${p}/`)))
        .map(show);
      expect(wrong).toEqual([]);
    },
  );

  it('the pipeline bundles only tools from tools/pipeline', () => {
    const entries = Object.values(PIPELINE_TOOLS);
    expect(entries.length).toBeGreaterThan(0);
    for (const entry of entries) {
      expect(entry).toMatch(/^tools\/pipeline\//);
      expect(fs.existsSync(path.join(ROOT, entry))).toBe(true);
    }
  });

  it('every tool an npm script runs exists', () => {
    const scripts = (
      JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
        scripts: Record<string, string>;
      }
    ).scripts;
    const missing = Object.entries(scripts).flatMap(([name, command]) =>
      [...command.matchAll(/\b(?:tools|scripts|bench)\/[\w./-]+\.(?:ts|sh)\b/g)]
        .map((m) => m[0])
        .filter((p) => !fs.existsSync(path.join(ROOT, p)))
        .map((p) => `npm run ${name}: ${p}`),
    );
    expect(missing).toEqual([]);
  });

  it('every tools/, lib/, scripts/ and test/ path the README, docs, scripts and lib name exists', () => {
    // CHANGELOG.md is history: it names paths as they were
    const named = tracked(
      'README.md',
      'docs/*.md',
      'tools/*.md',
      'scripts',
      'lib',
      '.checkov-*',
      '.ci',
    )
      .flatMap((f) =>
        [
          ...fs
            .readFileSync(path.join(ROOT, f), 'utf8')
            .matchAll(/(?<![\w./-])(?:tools|lib|scripts|test)\/[\w./-]*\w/g),
        ].map((m) => ({ f, p: m[0] })),
      )
      .filter(({ p }) => !fs.existsSync(path.join(ROOT, p)))
      .map(({ f, p }) => `${f} names ${p}`);
    expect(named).toEqual([]);
  });
});
