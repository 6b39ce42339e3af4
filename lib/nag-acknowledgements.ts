import type { IConstruct } from 'constructs';

/** Placeholder: filled once the first nag report is read. */
export function acknowledgeFindings(_app: IConstruct): void {}
