import * as https from 'node:https';

/** What the smoke test needs of a response: fetch's Response has it too. */
export interface SmokeResponse {
  readonly status: number;
  text(): Promise<string>;
}
export type SmokeFetch = (
  url: string,
  init: { signal: AbortSignal; redirect: 'manual' },
) => Promise<SmokeResponse>;

/**
 * GET over TLS to the URL's address (the NLB's DNS name) while presenting `hostName`: as SNI, as
 * the Host header, and as the name the certificate must match (Node checks the certificate against
 * the servername: https://nodejs.org/api/tls.html#tlscheckserveridentityhostname-cert). So the
 * certificate clients will see is checked before DNS points the name at the NLB. fetch cannot set
 * the servername, hence node:https here.
 */
export function fetchPresenting(hostName: string, ca?: string): SmokeFetch {
  return (url, init) =>
    new Promise<SmokeResponse>((resolve, reject) => {
      const req = https.request(
        url,
        {
          method: 'GET',
          servername: hostName,
          headers: { host: hostName },
          ca,
          signal: init.signal,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', reject);
          res.on('end', () => {
            const body = Buffer.concat(chunks).toString('utf8');
            resolve({ status: res.statusCode ?? 0, text: () => Promise.resolve(body) });
          });
        },
      );
      req.on('error', reject);
      req.end();
    });
}

/** Certificate errors do not go away by retrying: the NLB serves the certificate it was given. */
export function isCertificateError(e: unknown): boolean {
  const code =
    (e as { code?: unknown; cause?: { code?: unknown } }).code ??
    (e as { cause?: { code?: unknown } }).cause?.code;
  return (
    typeof code === 'string' &&
    /^(ERR_TLS_CERT_ALTNAME_INVALID|CERT_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_(GET_ISSUER_CERT|VERIFY_LEAF_SIGNATURE))/.test(
      code,
    )
  );
}
