import type { RunControl } from './control';
import { CouldNotCheckError } from './errors';

/**
 * Reads a listing through the AWS SDK's paginator (`paginateX({ client }, input, { abortSignal })`),
 * one page at a time, each page bounded by the run's time limits (RunControl.call) and the whole
 * listing by `maxPages`. A listing that does not end normally is "could not check" (exit 3),
 * never a partial answer: a token seen before (the SDK's paginator follows it forever, or, with
 * `stopOnSameToken`, stops quietly), the paginator ending while the last page named a next one,
 * or more than `maxPages` pages. The message says how far it read.
 */
export async function readPages<P>(o: {
  readonly doing: string;
  /** Starts the paginator; every request it sends must carry `abortSignal`. */
  readonly paginate: (abortSignal: AbortSignal) => AsyncIterable<P>;
  /** The page's token for the next page (undefined or empty on the last page). */
  readonly nextTokenOf: (page: P) => string | undefined;
  /** Takes a page; returns true once it has seen enough (the rest is not read). */
  readonly onPage: (page: P) => boolean | void;
  readonly control: RunControl;
  readonly maxPages: number;
  /** What the operator can do instead, appended to the message. */
  readonly instead?: string;
}): Promise<void> {
  const ac = new AbortController();
  const iterator = o.paginate(ac.signal)[Symbol.asyncIterator]();
  const tokens = new Set<string>();
  const instead = o.instead ? `; ${o.instead}` : '';
  let read = 0;
  let expectMore = false;
  try {
    for (;;) {
      const next = await o.control.call(o.doing, (signal) => {
        const abort = () => ac.abort();
        signal.addEventListener('abort', abort, { once: true });
        return iterator.next().finally(() => signal.removeEventListener('abort', abort));
      });
      if (next.done) {
        if (expectMore)
          throw new CouldNotCheckError(
            `${o.doing}: the listing stopped after ${read} pages although the last one named a next page, so it was not read to its end${instead}`,
          );
        return;
      }
      read += 1;
      if (o.onPage(next.value) === true) return;
      const token = o.nextTokenOf(next.value);
      expectMore = token !== undefined && token !== '';
      if (!expectMore) continue;
      if (tokens.has(token as string))
        throw new CouldNotCheckError(
          `${o.doing}: AWS returned the same page token twice (after ${read} pages), so the listing would never end${instead}`,
        );
      tokens.add(token as string);
      if (read >= o.maxPages)
        throw new CouldNotCheckError(
          `${o.doing}: more than ${o.maxPages} pages; stopped there, not read to its end${instead}`,
        );
    }
  } finally {
    ac.abort();
    void iterator.return?.(undefined)?.catch(() => undefined);
  }
}
