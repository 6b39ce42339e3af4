import { helpText } from '../tools/common/command';
import { EXIT_OK, EXIT_USAGE } from '../tools/common/errors';

/**
 * `npx delivery <command> [options]`: one entry point for every command (package.json `bin`), so
 * that none needs `npm run -s` to keep npm's banner out of its output. Each command is loaded
 * only when it is run. `npx delivery <command> --help` prints that command's help, with the exit
 * codes every command shares (docs/runbooks/README.md).
 */
interface Command {
  readonly about: string;
  readonly who: 'operator' | 'pipeline' | 'developer';
  readonly run: (argv: readonly string[]) => Promise<number>;
}

/* eslint-disable @typescript-eslint/no-require-imports -- each command is loaded only when it runs */
export const COMMANDS: Readonly<Record<string, Command>> = {
  preflight: {
    about: 'read-only checks of every account and region before the first deployment',
    who: 'operator',
    run: (argv) =>
      (
        require('../tools/operator/preflight/cli') as typeof import('../tools/operator/preflight/cli')
      ).run(argv),
  },
  rollback: {
    about: 'roll a deploy stage back to an earlier successful execution (--list: the candidates)',
    who: 'operator',
    run: (argv) =>
      (
        require('../tools/operator/rollback/cli') as typeof import('../tools/operator/rollback/cli')
      ).run(argv),
  },
  breakglass: {
    about: 'emergency change with kubectl, stored in S3, audited in DynamoDB',
    who: 'operator',
    run: (argv) =>
      (
        require('../tools/operator/breakglass/cli') as typeof import('../tools/operator/breakglass/cli')
      ).run(argv),
  },
  drift: {
    about: 'what git renders, what S3 holds and what the cluster runs, compared per environment',
    who: 'operator',
    run: (argv) =>
      (require('../tools/operator/drift/cli') as typeof import('../tools/operator/drift/cli')).run(
        argv,
      ),
  },
  'node-updates': {
    about: "each environment's node AMI release against the one AWS recommends",
    who: 'operator',
    run: (argv) =>
      (
        require('../tools/operator/node-updates/cli') as typeof import('../tools/operator/node-updates/cli')
      ).run(argv),
  },
  'image-gate': {
    about: 'the pre-deployment image gate (replication and scan findings), as the pipeline runs it',
    who: 'pipeline',
    run: (argv) =>
      (
        require('../tools/pipeline/image-gate/cli') as typeof import('../tools/pipeline/image-gate/cli')
      ).main(argv),
  },
  'image-backfill': {
    about: 'copy the current image to regions whose replica lacks it, as the pipeline does',
    who: 'pipeline',
    run: (argv) =>
      (
        require('../tools/pipeline/image-backfill/cli') as typeof import('../tools/pipeline/image-backfill/cli')
      ).main(argv),
  },
  'smoke-test': {
    about: 'the post-deployment smoke test of a service URL, as the pipeline runs it',
    who: 'pipeline',
    run: (argv) =>
      (
        require('../tools/pipeline/smoke-test/cli') as typeof import('../tools/pipeline/smoke-test/cli')
      ).main(argv),
  },
  'rollback-guard': {
    about: 'would each deploy stage have a rollback target if this release failed there',
    who: 'pipeline',
    run: (argv) =>
      (
        require('../tools/pipeline/rollback-guard/cli') as typeof import('../tools/pipeline/rollback-guard/cli')
      ).run(argv),
  },
  'breakglass-check': {
    about:
      'is a breakglass change outstanding that this commit does not carry (the pipeline runs it)',
    who: 'pipeline',
    run: (argv) =>
      (
        require('../tools/pipeline/breakglass-check/cli') as typeof import('../tools/pipeline/breakglass-check/cli')
      ).main(argv),
  },
  'change-report': {
    about:
      'what deploying the prod stacks would change, as the pipeline reports it before approval',
    who: 'pipeline',
    run: (argv) =>
      (
        require('../tools/pipeline/change-report/cli') as typeof import('../tools/pipeline/change-report/cli')
      ).main(argv),
  },
  diff: {
    about: 'what deploying would change, stack by stack, against what is deployed or another synth',
    who: 'developer',
    run: (argv) => (require('../tools/dev/diff') as typeof import('../tools/dev/diff')).main(argv),
  },
  manifests: {
    about: "one environment's Kubernetes manifests as YAML (or every one into --out-dir)",
    who: 'developer',
    run: (argv) =>
      (require('../tools/dev/manifests') as typeof import('../tools/dev/manifests')).run(argv),
  },
};
/* eslint-enable @typescript-eslint/no-require-imports */

export const DELIVERY_HELP = helpText({
  usage:
    'Usage: npx delivery <command> [options]   (npx delivery <command> --help for its options)',
  about: [
    'The commands of this repository:',
    ...Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(15)} ${c.about}`),
  ].join('\n'),
  options: [],
  runbook: 'docs/runbooks/README.md',
});

export async function delivery(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${DELIVERY_HELP}\n`);
    return EXIT_OK;
  }
  if (name === undefined) {
    process.stderr.write(`${DELIVERY_HELP}\n`);
    return EXIT_USAGE;
  }
  const command = Object.prototype.hasOwnProperty.call(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (command === undefined) {
    process.stderr.write(
      `delivery: error: unknown command ${JSON.stringify(name)}; one of: ${Object.keys(COMMANDS).join(', ')} (npx delivery --help)\n`,
    );
    return EXIT_USAGE;
  }
  return command.run(rest);
}

/** Runs the command line of this process and exits with its code (bin/delivery.cjs). */
export function main(): void {
  void delivery(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
    // A call abandoned at its time limit may still hold a socket open: the exit code is decided, so
    // do not let it keep the process alive (the timer does not itself keep it alive).
    setTimeout(() => process.exit(code), 2000).unref();
  });
}
