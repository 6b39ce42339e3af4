import { z } from 'zod';

/**
 * TLS settings of one environment, beside `certificateArn` (an ACM certificate of the environment's
 * region, which the NLB terminates TLS on 443 with). A fragment of the environment schema
 * (lib/config/schema.ts), with its own cross-field rules.
 */

// A DNS name the certificate can cover: labels of letters, digits and "-", at least two labels.
const DNS_NAME =
  /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]$/;

export const tlsFields = {
  /**
   * With `certificateArn`: the DNS name clients use (a name the certificate covers, pointing at the
   * NLB). The smoke test connects to the NLB with this name (SNI) and checks that the certificate
   * matches it. Required with `certificateArn`. @default none
   */
  tlsHostName: z
    .string()
    .regex(DNS_NAME, {
      message:
        'must be a DNS name such as "hello.example.com" (lowercase, no wildcard, no trailing dot)',
    })
    .optional(),
  /**
   * With `certificateArn`: also serve plain HTTP on port 80. An NLB cannot redirect to HTTPS (it is a
   * layer-4 load balancer), so an open port 80 serves the whole service unencrypted. @default false
   */
  httpWithTls: z.boolean().optional(),
};

export interface TlsInput {
  readonly certificateArn?: string;
  readonly tlsHostName?: string;
  readonly httpWithTls?: boolean;
}

/** Cross-field rules, each with its path. */
export function tlsProblems(env: TlsInput, path: string): { path: string; message: string }[] {
  const problems: { path: string; message: string }[] = [];
  if (env.certificateArn && env.tlsHostName === undefined) {
    problems.push({
      path: `${path}.tlsHostName`,
      message:
        'is required with certificateArn: the DNS name the certificate covers (e.g. "hello.example.com"); the smoke test checks the certificate against it',
    });
  }
  if (!env.certificateArn && env.tlsHostName !== undefined)
    problems.push({
      path: `${path}.tlsHostName`,
      message: 'has no effect without certificateArn: set both, or neither',
    });
  if (!env.certificateArn && env.httpWithTls !== undefined)
    problems.push({
      path: `${path}.httpWithTls`,
      message: 'has no effect without certificateArn (without TLS, port 80 is the only listener)',
    });
  return problems;
}
