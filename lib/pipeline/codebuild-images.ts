import * as codebuild from 'aws-cdk-lib/aws-codebuild';

/**
 * The CodeBuild images the pipeline's steps run on, and what each offers. CodeBuild puts on PATH
 * only the runtimes a buildspec selects (`phases.install.runtime-versions`); anything else is the
 * image's default (on standard:7.0, `go` was Go 1.20, too old for tools/dev/k8s-validate). So every
 * step selects each runtime it runs, at a version its image offers: test/pipeline/codebuild-runtimes.test.ts
 * checks every synthesized step against this table.
 *
 * Source of the table: the `runtimes.yml` of each image in aws/aws-codebuild-docker-images, at
 * commit 1590e48787084015430500926ea922130dbe9367 (2026-04-09):
 *   ubuntu/standard/8.0/runtimes.yml, al/aarch64/standard/4.0/runtimes.yml, al/x86_64/standard/6.0/runtimes.yml
 * (each image's Dockerfile there pins the patch releases, e.g. NODE_24_VERSION="24.14.0").
 * To move to a newer image, read its runtimes.yml and add an entry here first.
 */
export interface CodeBuildImageRuntimes {
  /** Where the versions below come from. */
  readonly source: string;
  readonly nodejs: readonly string[];
  readonly golang: readonly string[];
  readonly python: readonly string[];
}

const RUNTIMES_YML =
  'https://github.com/aws/aws-codebuild-docker-images/blob/1590e48787084015430500926ea922130dbe9367';

export const CODEBUILD_IMAGES: Readonly<Record<string, CodeBuildImageRuntimes>> = {
  'aws/codebuild/standard:8.0': {
    source: `${RUNTIMES_YML}/ubuntu/standard/8.0/runtimes.yml`,
    nodejs: ['22', '24'],
    golang: ['1.24', '1.25', '1.26'],
    python: ['3.10', '3.11', '3.12', '3.13', '3.14'],
  },
  'aws/codebuild/amazonlinux-aarch64-standard:4.0': {
    source: `${RUNTIMES_YML}/al/aarch64/standard/4.0/runtimes.yml`,
    nodejs: ['22', '24'],
    golang: ['1.24', '1.25', '1.26'],
    python: ['3.10', '3.11', '3.12', '3.13', '3.14'],
  },
  'aws/codebuild/amazonlinux-x86_64-standard:6.0': {
    source: `${RUNTIMES_YML}/al/x86_64/standard/6.0/runtimes.yml`,
    nodejs: ['22', '24'],
    golang: ['1.24', '1.25', '1.26'],
    python: ['3.10', '3.11', '3.12', '3.13', '3.14'],
  },
};

/** The images in use: every step on standard:8.0, except the image build, which runs natively on the nodes' architecture. */
export const BUILD_IMAGES = {
  default: codebuild.LinuxBuildImage.STANDARD_8_0,
  imageBuild: {
    arm64: codebuild.LinuxArmBuildImage.AMAZON_LINUX_2023_STANDARD_4_0,
    amd64: codebuild.LinuxBuildImage.AMAZON_LINUX_2023_6,
  },
} as const;

/**
 * The runtime versions the steps select: Node 24 LTS (package.json "engines"; Node 20 is past end of
 * life), Go 1.26 (app/go.mod, tools/dev/k8s-validate/go.mod), Python 3.13 (scripts/setup-python.sh's tools).
 */
export const RUNTIME_VERSIONS = { nodejs: '24', golang: '1.26', python: '3.13' } as const;

/**
 * The exact Go toolchain the pipeline's Go steps use: the one app/Dockerfile builds the image with
 * (golang:1.26.8), so the race tests and staticcheck run on the compiler that builds the binary.
 * The images offer Go 1.26 at an older patch (1.26.0/1.26.1); with GOTOOLCHAIN set, Go >= 1.21
 * fetches this toolchain from the Go module proxy as the module golang.org/toolchain (cached with
 * the module cache). https://go.dev/doc/toolchain
 */
export const GO_TOOLCHAIN = 'go1.26.8';

export type Runtime = keyof typeof RUNTIME_VERSIONS;

/** A partial buildspec selecting exactly these runtimes, at the project's versions. */
export function selectRuntimes(...runtimes: Runtime[]): codebuild.BuildSpec {
  return codebuild.BuildSpec.fromObject({
    phases: {
      install: {
        'runtime-versions': Object.fromEntries(runtimes.map((r) => [r, RUNTIME_VERSIONS[r]])),
      },
    },
  });
}
