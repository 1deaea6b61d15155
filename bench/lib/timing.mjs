// One clock for the whole benchmark: milliseconds with sub-millisecond resolution on the
// epoch scale, so a timestamp written into a row and one read in a handler compare directly.
import { performance } from 'node:perf_hooks';

export const nowMs = () => performance.timeOrigin + performance.now();

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export async function sleepUntil(epochMs) {
  const wait = epochMs - nowMs();
  if (wait > 0) await sleep(wait);
}
