/**
 * Runs `work` over `items` with at most `limit` calls in flight, in order of start. One helper for every place that
 * bounds its I/O this way (store appends, state saves, history reads, device imports), so the bound is read the
 * same everywhere. `work` gets the item's index too, for callers that report results by position.
 */
export async function forEachLimited<T>(
  items: readonly T[],
  limit: number,
  work: (item: T, index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const runner = async () => {
    while (next < items.length) {
      const index = next;
      next += 1;
      await work(items[index] as T, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, runner));
}
