import type { KalamConsumerError } from '../errors.js';
import { describeFailure } from '../failure-reason.js';
import type { PartitionLeases } from '../fleet/index.js';
import type { Logger } from '../logger.js';
import { sleep } from '../timing.js';
import type { StopControl } from './stop-control.js';

/** How often the supervisor runs a lease round; renewals inside it are throttled by PartitionLeases. */
export const FLEET_TICK_MS = 1_000;
/**
 * How often running partitions are checked against `canCommit`, apart from the rounds: a round
 * can hang on a slow or blackholed lease statement, and a partition whose lease ran out must
 * start no more messages (its next owner may take over `safetyMarginMs` later).
 */
export const FENCE_CHECK_MS = 100;

export interface FleetSupervisorSettings {
  leases: PartitionLeases;
  /** The worker's stop; each partition gets a child of it. */
  stop: StopControl;
  /** Runs one partition until its control stops it; rejects with an error that must stop the worker. */
  runPartition(partition: number, stop: StopControl, canCommit: () => boolean): Promise<void>;
  logger: Logger;
  reportLease(error: KalamConsumerError, partition: number): void;
  tickMs?: number;
  fenceCheckMs?: number;
}

interface Running {
  stop: StopControl;
  done: Promise<void>;
  releasing: boolean;
}

/**
 * Runs the partitions this worker holds a lease on, and only those (docs/fleet.md, "Contract
 * with the engine"): every round it starts what it acquired, stops at once what it lost (its
 * commits are already refused by `canCommit`), and drains what it must hand over before
 * releasing it. On stop it drains everything, then gives every lease back so the others take
 * over on their next round instead of after the lease time-out.
 */
export async function superviseFleet(s: FleetSupervisorSettings): Promise<void> {
  const { leases, stop, logger } = s;
  const running = new Map<number, Running>();
  let fatal: unknown;

  const start = (partition: number): void => {
    const control = stop.child();
    const done = s
      .runPartition(partition, control, () => leases.canCommit(partition))
      .catch((error: unknown) => {
        fatal ??= error;
        stop.stop();
      })
      .finally(() => control.dispose());
    running.set(partition, { stop: control, done, releasing: false });
    void done.then(() => {
      if (running.get(partition)?.done === done) running.delete(partition);
    });
  };

  // Fencing between rounds: the partition loop checks canCommit only once per fetched batch, and
  // a lost lease reaches `lost` only when a round finishes. Halting here stops the batch's
  // remaining messages from starting (the one running finishes; nothing is committed).
  const fence = setInterval(() => {
    for (const [partition, r] of running) {
      if (!r.stop.halted && !leases.canCommit(partition)) {
        logger.warn(`the lease on ${partitionName(partition)} ran out before a lease round confirmed it: stopped handling it`);
        r.stop.stop();
      }
    }
  }, s.fenceCheckMs ?? FENCE_CHECK_MS);

  try {
    while (!stop.halted) {
      const { acquired, lost, shouldRelease, errors } = await leases.tick();
      for (const error of errors) {
        logger.warn(`lease round: ${describeFailure(error)}`);
        s.reportLease(error, -1);
      }
      for (const partition of lost) {
        const r = running.get(partition);
        logger.warn(`lost the lease on ${partitionName(partition)}: stopped handling it, nothing more is committed there`);
        r?.stop.stop();
      }
      for (const partition of acquired) {
        const previous = running.get(partition);
        logger.info(`took ${partitionName(partition)} (owns ${leases.owned().join(', ') || 'none'})`);
        // A loop of an earlier lease may still be finishing: never two loops on one partition.
        if (previous) void previous.done.then(() => !stop.halted && leases.canCommit(partition) && start(partition));
        else start(partition);
      }
      for (const partition of shouldRelease) {
        const r = running.get(partition);
        if (!r) {
          await leases.release(partition);
          continue;
        }
        if (r.releasing) continue;
        r.releasing = true;
        logger.info(`handing ${partitionName(partition)} over to another worker after its running messages finish`);
        r.stop.stop();
        void r.done.then(() => leases.release(partition));
      }
      if (fatal !== undefined) break;
      await sleep(s.tickMs ?? FLEET_TICK_MS, stop.halt);
    }
  } finally {
    clearInterval(fence);
    for (const r of running.values()) r.stop.stop();
    await Promise.all([...running.values()].map((r) => r.done));
    await leases.stop();
  }
  if (fatal !== undefined) throw fatal;
}

function partitionName(partition: number): string {
  return `partition ${partition}`;
}
