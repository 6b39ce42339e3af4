import { type SmokeFetch, fetchPresenting, isCertificateError } from './tls';

/**
 * The post-deployment smoke test: GET <url>/version until it answers 200 with the expected
 * version (the image tag the stage deployed), retrying within a bounded time. A fresh NLB takes a
 * few minutes to resolve in DNS and to mark targets healthy, so failures are retried, not fatal.
 */
export interface SmokeOptions {
  readonly url: string;
  readonly expectVersion: string;
  /** Give up after this long. */
  readonly timeoutMs: number;
  /** Wait between attempts. @default 10000 */
  readonly intervalMs?: number;
  /** One request's timeout. @default 5000 */
  readonly requestTimeoutMs?: number;
  /**
   * With an https:// URL: the name the service's certificate must match, presented as SNI and Host
   * while connecting to the URL's address. @default the URL's own host
   */
  readonly tlsHostName?: string;
  /** Extra trusted CA certificates (PEM), for tests. @default Node's CA store */
  readonly tlsCa?: string;
  readonly log?: (line: string) => void;
  readonly fetchImpl?: SmokeFetch;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly now?: () => number;
}

export interface SmokeResult {
  readonly ok: boolean;
  readonly attempts: number;
  readonly reason: string;
}

export async function smokeTest(o: SmokeOptions): Promise<SmokeResult> {
  const log = o.log ?? ((l: string) => console.log(l));
  const doFetch: SmokeFetch =
    o.fetchImpl ??
    (o.tlsHostName || o.tlsCa
      ? fetchPresenting(o.tlsHostName ?? new URL(o.url).hostname, o.tlsCa)
      : fetch);
  const sleep = o.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const now = o.now ?? Date.now;
  const start = now();
  const target = `${o.url.replace(/\/+$/, '')}/version`;
  let attempts = 0;
  let last: string;
  for (;;) {
    attempts++;
    try {
      const res = await doFetch(target, {
        signal: AbortSignal.timeout(o.requestTimeoutMs ?? 5000),
        redirect: 'manual',
      });
      const body = await res.text();
      if (res.status !== 200) {
        last = `HTTP ${res.status}`;
      } else {
        let version: unknown;
        try {
          version = (JSON.parse(body) as { version?: unknown }).version;
        } catch {
          version = undefined;
        }
        if (version === o.expectVersion) {
          const reason = `${target} reports version ${o.expectVersion} (attempt ${attempts}, ${Math.round((now() - start) / 1000)}s)`;
          log(`smoke-test: PASS ${reason}`);
          return { ok: true, attempts, reason };
        }
        last =
          version === undefined
            ? `answer is not JSON with a "version" field: ${body.slice(0, 80)}`
            : `version is ${JSON.stringify(version)}, expected ${JSON.stringify(o.expectVersion)} (old pods still serving?)`;
      }
    } catch (e) {
      const code =
        (e as { code?: string }).code ?? (e as { cause?: { code?: string } }).cause?.code;
      last =
        (e as Error).name === 'TimeoutError'
          ? 'request timed out'
          : `${(e as Error).message}${code ? ` (${code})` : ''}`;
      if (isCertificateError(e)) {
        const reason = `${target}: the TLS certificate is not valid for ${o.tlsHostName ?? new URL(o.url).hostname}: ${last}; check certificateArn and tlsHostName`;
        log(`smoke-test: FAIL ${reason}`);
        return { ok: false, attempts, reason };
      }
    }
    const elapsed = now() - start;
    if (elapsed >= o.timeoutMs) {
      const reason = `${target} did not report version ${o.expectVersion} within ${Math.round(o.timeoutMs / 1000)}s after ${attempts} attempts; last: ${last}`;
      log(`smoke-test: FAIL ${reason}`);
      return { ok: false, attempts, reason };
    }
    log(
      `smoke-test: attempt ${attempts}: ${last}; retrying (${Math.round(elapsed / 1000)}s of ${Math.round(o.timeoutMs / 1000)}s)`,
    );
    await sleep(Math.min(o.intervalMs ?? 10000, Math.max(0, o.timeoutMs - elapsed)));
  }
}
