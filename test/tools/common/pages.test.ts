import { RunControl } from '../../../tools/common/control';
import { CouldNotCheckError } from '../../../tools/common/errors';
import { readPages } from '../../../tools/common/pages';

/**
 * A listing is read to its end or it is "could not check" (exit 3), never a partial answer
 * (design: "A paginator that stops on a repeated token has not read everything"). The SDK's
 * paginator follows a repeated token forever by default, and with `stopOnSameToken` stops
 * without a word (@smithy/core createPaginator): both are caught here.
 */
type Page = { items: string[]; nextToken?: string };

function paginator(pages: Page[], stopsQuietlyAt?: number) {
  return async function* (): AsyncIterable<Page> {
    for (let i = 0; i < pages.length; i++) {
      // as the SDK's paginator does: one request per page
      yield await Promise.resolve(pages[i]);
      if (stopsQuietlyAt === i) return;
    }
  };
}

async function read(pages: Page[], o: { maxPages?: number; stopsQuietlyAt?: number } = {}) {
  const seen: string[] = [];
  await readPages({
    doing: 'listing things',
    paginate: paginator(pages, o.stopsQuietlyAt),
    nextTokenOf: (p) => p.nextToken,
    onPage: (p) => void seen.push(...p.items),
    control: new RunControl({ timeoutMs: 10000, callTimeoutMs: 1000 }),
    maxPages: o.maxPages ?? 10,
  });
  return seen;
}

test('every page, in order, up to the one without a token', async () => {
  expect(
    await read([
      { items: ['a'], nextToken: 't1' },
      { items: ['b'], nextToken: '' },
    ]),
  ).toEqual(['a', 'b']);
});

test('a token seen before is could not check, saying how far it read', async () => {
  await expect(
    read([
      { items: ['a'], nextToken: 't1' },
      { items: ['b'], nextToken: 't1' },
    ]),
  ).rejects.toThrow(
    new CouldNotCheckError(
      'listing things: AWS returned the same page token twice (after 2 pages), so the listing would never end',
    ),
  );
});

test('a paginator that ends although the last page named a next one is could not check', async () => {
  await expect(
    read([{ items: ['a'], nextToken: 't1' }, { items: ['b'], nextToken: 't2' }, { items: ['c'] }], {
      stopsQuietlyAt: 1,
    }),
  ).rejects.toThrow(/stopped after 2 pages although the last one named a next page/);
});

test('more pages than the cap is could not check', async () => {
  const pages = Array.from({ length: 5 }, (_, i) => ({ items: [`${i}`], nextToken: `t${i}` }));
  await expect(read(pages, { maxPages: 3 })).rejects.toThrow(/more than 3 pages/);
});
