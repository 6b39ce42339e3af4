/**
 * EKS-optimized AMI release versions and what to do about them. Pure functions: no AWS, no clock.
 *
 * A release version is `<kubernetes major.minor.patch>-<YYYYMMDD>`, for example
 * `1.35.6-20260714`: the Kubernetes build it ships and the date of the AMI release
 * (awslabs/amazon-eks-ami, CHANGELOG.md "Release version"; the releases are tagged `v<YYYYMMDD>`).
 * The same string names the release for every AL2023 architecture.
 */

export interface ReleaseVersion {
  readonly text: string;
  /** `1.35` */
  readonly minor: string;
  /** Kubernetes patch number, `6` in 1.35.6. */
  readonly patch: number;
  /** The AMI release date, `20260714`, as UTC midnight in ms. */
  readonly releasedAt: number;
  /** `2026-07-14` */
  readonly releaseDate: string;
}

const RELEASE_VERSION = /^(\d+\.\d+)\.(\d+)-(\d{4})(\d{2})(\d{2})$/;
const DAY_MS = 86_400_000;

/** The parsed release version, or undefined when the text is not one. */
export function parseReleaseVersion(text: string): ReleaseVersion | undefined {
  const m = RELEASE_VERSION.exec(text.trim());
  if (!m) return undefined;
  const [, minor, patch, y, mo, d] = m;
  const releasedAt = Date.UTC(Number(y), Number(mo) - 1, Number(d));
  const releaseDate = `${y}-${mo}-${d}`;
  if (new Date(releasedAt).toISOString().slice(0, 10) !== releaseDate) return undefined;
  return { text: text.trim(), minor, patch: Number(patch), releasedAt, releaseDate };
}

/** Negative when `a` is older than `b`: by release date, then by Kubernetes patch. */
export function compareReleases(a: ReleaseVersion, b: ReleaseVersion): number {
  return a.releasedAt - b.releasedAt || a.patch - b.patch;
}

/** Whole days from the release date to `now`. */
export function ageInDays(release: ReleaseVersion, now: number): number {
  return Math.max(0, Math.floor((now - release.releasedAt) / DAY_MS));
}

/**
 * CURRENT: the pinned release is the recommended one. BEHIND: a newer one exists, the pinned one
 * is not older than the limit yet. STALE: a newer one exists and the pinned one is older than the
 * limit. AHEAD: the region recommends an older release than the pinned one (it has not reached
 * that region yet, so a deploy there may be refused).
 */
export type ReleaseStatus = 'CURRENT' | 'BEHIND' | 'STALE' | 'AHEAD';

export function releaseStatus(
  current: ReleaseVersion,
  latest: ReleaseVersion,
  now: number,
  maxAgeDays: number,
): ReleaseStatus {
  const order = compareReleases(current, latest);
  if (order === 0) return 'CURRENT';
  if (order > 0) return 'AHEAD';
  return ageInDays(current, now) > maxAgeDays ? 'STALE' : 'BEHIND';
}

/**
 * The release to pin for one Kubernetes version, given the recommended release each environment
 * on it reported: the oldest of them, so that the pin exists in every region (a new release
 * reaches regions over several days). Undefined when nothing was reported.
 */
export function releaseToPin(latest: readonly ReleaseVersion[]): ReleaseVersion | undefined {
  return [...latest].sort(compareReleases)[0];
}
