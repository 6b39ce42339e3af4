import { z } from 'zod';

/**
 * What the change report before the prod approval can find that an approver must see
 * (docs/decisions/0030-change-report.md). Each can be made to block the promotion instead of
 * only being shown (`prod.changeReport.blockOn`):
 * - `permissions-broadening`: an IAM statement, managed policy, security-group opening or EKS
 *   access entry that grants more than what is deployed;
 * - `replacement`: a resource CloudFormation would replace (or may replace) or delete;
 * - `interruption`: a replacement or removal of a resource running traffic depends on (VPC,
 *   subnets, NAT, the EKS cluster, the node group, the workload's Kubernetes objects);
 * - `unchecked`: a prod stack whose deployed template could not be read.
 */
export const CHANGE_REPORT_FINDINGS = [
  'permissions-broadening',
  'replacement',
  'interruption',
  'unchecked',
] as const;
export type ChangeReportFinding = (typeof CHANGE_REPORT_FINDINGS)[number];

export const changeReportSchema = z.strictObject({
  /** Findings that fail the report action, so the approval is never offered. @default [] (report and notify only) */
  blockOn: z
    .array(z.enum(CHANGE_REPORT_FINDINGS))
    .refine((a) => new Set(a).size === a.length, { message: 'lists a finding twice' })
    .optional(),
});
export type ChangeReportInput = z.input<typeof changeReportSchema>;

export interface ChangeReportSettings {
  readonly blockOn: readonly ChangeReportFinding[];
}

export function resolveChangeReport(input: ChangeReportInput | undefined): ChangeReportSettings {
  return { blockOn: input?.blockOn ?? [] };
}
