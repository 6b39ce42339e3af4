import type {
  EnhancedImageScanFinding,
  ImageScanFinding,
  ImageScanFindings,
} from '@aws-sdk/client-ecr';
import type { DeliveryConfig } from '../../../lib/config';

/**
 * Scan findings, reduced to what the gate decides on and prints. Basic scanning (Clair) and
 * enhanced scanning (Amazon Inspector) report findings in different shapes; both end up here.
 */

/** ECR's severities, most severe first. */
export const SEVERITIES = [
  'CRITICAL',
  'HIGH',
  'MEDIUM',
  'LOW',
  'INFORMATIONAL',
  'UNDEFINED',
] as const;
export type Severity = (typeof SEVERITIES)[number];

/** The thresholds `image.failOn` accepts in the config; the gate takes the same. */
export type FailOn = DeliveryConfig['image']['failOn'];
export const FAIL_ON_SEVERITIES: readonly FailOn[] = ['CRITICAL', 'HIGH', 'MEDIUM', 'LOW'];

export interface Finding {
  /** One of SEVERITIES, or anything else ECR reports (Inspector's UNTRIAGED): see isBlocking. */
  readonly severity: string;
  /** CVE id (or the scanner's name for the finding). */
  readonly name: string;
  readonly packageName?: string;
  readonly packageVersion?: string;
  readonly uri?: string;
}

export function isRecognised(severity: string): severity is Severity {
  return (SEVERITIES as readonly string[]).includes(severity);
}

/**
 * 0 for CRITICAL, ... 5 for UNDEFINED; -1 for a severity the gate does not know (Inspector's
 * UNTRIAGED, or one ECR adds later), so that it sorts first and blocks (isBlocking).
 */
export function severityRank(severity: string): number {
  return (SEVERITIES as readonly string[]).indexOf(severity);
}

/**
 * Blocks at or above the threshold, and always when the severity is not one the gate knows:
 * nobody has ranked it yet (UNTRIAGED: "not yet triaged" in Inspector's severity list), so it
 * cannot be assumed below any threshold.
 */
export function isBlocking(severity: string, threshold: FailOn): boolean {
  return !isRecognised(severity) || severityRank(severity) <= severityRank(threshold);
}

function attribute(finding: ImageScanFinding, key: string): string | undefined {
  return finding.attributes?.find((a) => a.key === key)?.value;
}

function fromBasic(f: ImageScanFinding): Finding {
  return {
    severity: f.severity ?? 'UNDEFINED',
    name: f.name ?? '(unnamed finding)',
    packageName: attribute(f, 'package_name'),
    packageVersion: attribute(f, 'package_version'),
    uri: f.uri,
  };
}

function fromEnhanced(f: EnhancedImageScanFinding): Finding {
  const details = f.packageVulnerabilityDetails;
  const packages = details?.vulnerablePackages ?? [];
  const joined = (values: (string | undefined)[]): string | undefined => {
    const present = values.filter((v): v is string => v !== undefined && v !== '');
    return present.length > 0 ? present.join(', ') : undefined;
  };
  return {
    severity: f.severity ?? 'UNDEFINED',
    name: details?.vulnerabilityId ?? f.title ?? '(unnamed finding)',
    packageName: joined(packages.map((p) => p.name)),
    packageVersion: joined(packages.map((p) => p.version)),
    uri: details?.sourceUrl ?? details?.referenceUrls?.[0],
  };
}

export interface PageFindings {
  readonly findings: Finding[];
  /** Inspector findings whose status is CLOSED: the vulnerability is no longer in the image. */
  readonly closed: number;
}

/** The findings of one DescribeImageScanFindings page, basic and enhanced alike. */
export function findingsOfPage(page: ImageScanFindings | undefined): PageFindings {
  const basic = (page?.findings ?? []).map(fromBasic);
  const enhanced = page?.enhancedFindings ?? [];
  // SUPPRESSED findings still count: a suppression rule lives in the account, outside review.
  const open = enhanced.filter((f) => f.status !== 'CLOSED');
  return { findings: [...basic, ...open.map(fromEnhanced)], closed: enhanced.length - open.length };
}

/** Findings per known severity, and those of any other severity under UNRECOGNISED. */
export type SeverityCounts = Record<Severity | 'UNRECOGNISED', number>;

export function countBySeverity(findings: readonly Finding[]): SeverityCounts {
  const counts = Object.fromEntries(
    [...SEVERITIES, 'UNRECOGNISED'].map((s) => [s, 0]),
  ) as SeverityCounts;
  for (const f of findings) counts[isRecognised(f.severity) ? f.severity : 'UNRECOGNISED'] += 1;
  return counts;
}

/** `CRITICAL 1, HIGH 0, MEDIUM 2, LOW 0, INFORMATIONAL 0, UNDEFINED 0` (and `, UNRECOGNISED n` when n > 0) */
export function formatCounts(counts: SeverityCounts): string {
  const known = SEVERITIES.map((s) => `${s} ${counts[s]}`);
  return [
    ...known,
    ...(counts.UNRECOGNISED > 0 ? [`UNRECOGNISED ${counts.UNRECOGNISED}`] : []),
  ].join(', ');
}

/** Most severe first, then by name, so the table reads the same on every run. */
export function sortFindings(findings: readonly Finding[]): Finding[] {
  return [...findings].sort(
    (a, b) => severityRank(a.severity) - severityRank(b.severity) || a.name.localeCompare(b.name),
  );
}

/** A plain-text table (severity, CVE, package, version, URI), one line per finding. */
export function formatFindingsTable(findings: readonly Finding[]): string[] {
  const header = ['SEVERITY', 'CVE', 'PACKAGE', 'VERSION', 'URI'];
  const rows = sortFindings(findings).map((f) => [
    f.severity,
    f.name,
    f.packageName ?? '-',
    f.packageVersion ?? '-',
    f.uri ?? '-',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)];
}
