import type { ConfigProblem, CrossFieldInput } from './schema';

/**
 * Availability zones by default, never looked up at synth. A zone's letter is not the same in every
 * Region or account: in the Regions launched before November 2012 AWS maps letters to physical zones
 * per account, us-west-1 gives each account two zones whose letters differ between accounts, and
 * some Regions skip a letter. The AZ ID (`usw1-az1`) names the same physical zone in every account
 * (https://docs.aws.amazon.com/global-infrastructure/latest/regions/az-ids.html); docs/configuration.md
 * shows how to list both. Regions not listed here have the zones `a`, `b` and `c` in every account.
 */
interface RegionZones {
  /** The zone letters that exist in the Region (in some account). */
  readonly letters: readonly string[];
  /** Three zones every account has, or undefined when no default is safe: `availabilityZones` is then required. */
  readonly defaults?: readonly string[];
  readonly why: string;
}

export const REGION_ZONES: Readonly<Record<string, RegionZones>> = {
  'us-west-1': {
    letters: ['a', 'b', 'c'],
    why: 'each account has two of its zones, and which letters they are differs between accounts',
  },
  'ap-northeast-1': {
    letters: ['a', 'b', 'c', 'd'],
    defaults: ['a', 'c', 'd'],
    why: 'ap-northeast-1b is offered to older accounts only',
  },
  'ca-central-1': {
    letters: ['a', 'b', 'd'],
    defaults: ['a', 'b', 'd'],
    why: 'its zones are a, b and d',
  },
};

const STANDARD = ['a', 'b', 'c'] as const;

/** The default zones of a Region, or undefined when it has none that hold in every account. */
export function defaultAvailabilityZones(region: string): string[] | undefined {
  const known = REGION_ZONES[region];
  const letters = known ? known.defaults : STANDARD;
  return letters?.map((l) => `${region}${l}`);
}

const listCommand = (region: string) =>
  `aws ec2 describe-availability-zones --region ${region} --query "AvailabilityZones[?ZoneType=='availability-zone'].[ZoneName,ZoneId]" --output table`;

/** availabilityZones is required where no default holds, and a zone letter must exist in its Region. */
export function checkAvailabilityZones(input: CrossFieldInput): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  for (const { env, path } of input.environments) {
    const known = REGION_ZONES[env.region];
    if (!env.availabilityZones) {
      if (defaultAvailabilityZones(env.region) === undefined) {
        problems.push({
          path: `${path}.availabilityZones`,
          message: `required in ${env.region}: ${known?.why ?? 'no default holds in every account'}. List your account's zones (name and AZ ID) with: ${listCommand(env.region)}`,
        });
      }
      continue;
    }
    if (!known) continue;
    env.availabilityZones.forEach((az, i) => {
      const letter = az.startsWith(env.region) ? az.slice(env.region.length) : undefined;
      if (letter !== undefined && /^[a-z]$/.test(letter) && !known.letters.includes(letter)) {
        problems.push({
          path: `${path}.availabilityZones[${i}]`,
          message: `"${az}" is not an availability zone of ${env.region} (it has ${known.letters.map((l) => `${env.region}${l}`).join(', ')}; ${known.why})`,
        });
      }
    });
  }
  return problems;
}
