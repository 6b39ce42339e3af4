import * as http from 'node:http';
import type * as net from 'node:net';

/**
 * An HTTP proxy in front of moto_server that injects one kind of fault into chosen AWS calls, so a
 * test drives the real SDK client (its serializers, retries, paginators and time limits) over the
 * wire instead of mocking our code: rewrite an answer (a `nextToken` that repeats), forward a call
 * and lose its answer (a write that is stored but never confirmed), or hold a call open.
 *
 * AWS JSON-protocol calls (ECR, DynamoDB, Inspector2's targets) name their operation in the
 * `X-Amz-Target` header (`AmazonEC2ContainerRegistry_V20150921.DescribeImageScanFindings`,
 * `DynamoDB_20120810.PutItem`); `operation` is the part after the dot. REST calls (S3) have none.
 */
export interface ProxiedCall {
  readonly method: string;
  readonly url: string;
  /** The operation from X-Amz-Target, or undefined for a REST call. */
  readonly operation?: string;
  /** The request body parsed as JSON, when it is JSON. */
  readonly json?: unknown;
  /** The request body as text (a Query-protocol form, such as STS's `Action=AssumeRole&...`). */
  readonly text: string;
}

export type Fault =
  /** Forward, then replace the JSON answer with what `rewrite` returns. */
  | { readonly kind: 'rewrite'; readonly rewrite: (answer: Record<string, unknown>) => unknown }
  /** Forward (so the call takes effect upstream), then answer only after `ms`: the caller gives up first. */
  | { readonly kind: 'lose-answer'; readonly ms: number }
  /**
   * Answer it here, without forwarding: a stand-in for a service moto does not emulate (or an
   * error it never gives), in the service's own wire format as its API reference documents it.
   */
  | {
      readonly kind: 'answer';
      readonly status: number;
      readonly body: string;
      readonly contentType: string;
    };

export interface FaultProxy {
  readonly endpoint: string;
  /** Every call that went through, in order. */
  readonly calls: ProxiedCall[];
  stop(): Promise<void>;
}

export async function startFaultProxy(
  upstream: string,
  faultFor: (call: ProxiedCall) => Fault | undefined,
): Promise<FaultProxy> {
  const calls: ProxiedCall[] = [];
  const sockets = new Set<net.Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const target = req.headers['x-amz-target'];
      let json: unknown;
      try {
        json = body.length > 0 ? JSON.parse(body.toString('utf8')) : undefined;
      } catch {
        json = undefined;
      }
      const call: ProxiedCall = {
        method: req.method ?? 'GET',
        url: req.url ?? '/',
        operation: typeof target === 'string' ? target.split('.').pop() : undefined,
        json,
        text: body.toString('utf8'),
      };
      calls.push(call);
      const fault = faultFor(call);
      if (fault?.kind === 'answer') {
        res.writeHead(fault.status, {
          'content-type': fault.contentType,
          'content-length': String(Buffer.byteLength(fault.body)),
          'x-amzn-requestid': 'fault-proxy',
        });
        res.end(fault.body);
        return;
      }
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers))
        if (typeof v === 'string' && k !== 'content-length') headers[k] = v;
      // Bounded: moto answers in milliseconds; a hung upstream must not hang the test.
      fetch(`${upstream}${call.url}`, {
        method: call.method,
        headers,
        body: ['GET', 'HEAD'].includes(call.method) ? undefined : body,
        signal: AbortSignal.timeout(30000),
      })
        .then(async (answer) => {
          let out = Buffer.from(await answer.arrayBuffer());
          if (fault?.kind === 'rewrite')
            out = Buffer.from(
              JSON.stringify(
                fault.rewrite(JSON.parse(out.toString('utf8')) as Record<string, unknown>),
              ),
            );
          const send = () => {
            if (res.destroyed) return;
            const h: Record<string, string> = {};
            answer.headers.forEach((v, k) => {
              if (!['content-length', 'content-encoding', 'transfer-encoding'].includes(k))
                h[k] = v;
            });
            res.writeHead(answer.status, { ...h, 'content-length': String(out.length) });
            res.end(out);
          };
          if (fault?.kind === 'lose-answer') {
            const t = setTimeout(() => {
              timers.delete(t);
              send();
            }, fault.ms);
            timers.add(t);
          } else send();
        })
        .catch((e: unknown) => {
          if (!res.destroyed) {
            res.writeHead(502);
            res.end(String(e));
          }
        });
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as net.AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    calls,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const t of timers) clearTimeout(t);
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
