// How many partitions one worker should hold. Pure, so every worker that reads the same lease
// table computes the same answer for everyone.
//
// With P partitions and N live workers each gets floor(P / N), and P mod N of them one more.
// Who gets the extra ones: the workers that already hold the most (ties by worker id), so a
// membership change moves as few partitions as possible. A plain ceil(P / N) cap is not enough:
// 4 partitions over 3 workers would allow 2/2/0, leaving a live worker idle.

export interface FairShareInput {
  self: string;
  /** Live workers; `self` is counted even when its own heartbeat is not visible yet. */
  members: Iterable<string>;
  /** Partitions each worker holds now (missing = 0). */
  holdings: ReadonlyMap<string, number>;
  partitionCount: number;
}

export function fairShare({ self, members, holdings, partitionCount }: FairShareInput): number {
  const everyone = [...new Set([...members, self])];
  const held = (id: string): number => holdings.get(id) ?? 0;
  everyone.sort((a, b) => held(b) - held(a) || (a < b ? -1 : a > b ? 1 : 0));
  const base = Math.floor(partitionCount / everyone.length);
  const extra = partitionCount % everyone.length;
  return base + (everyone.indexOf(self) < extra ? 1 : 0);
}
