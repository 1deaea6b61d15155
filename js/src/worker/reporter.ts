import type { KalamConsumerError } from '../errors.js';
import { describeFailure } from '../failure-reason.js';
import type { Logger } from '../logger.js';
import type { OffsetGap } from '../sequencer.js';
import type { ConnectionWatch } from './connection-watch.js';
import type { PartitionReporter } from './partition-loop.js';

/** What a partition loop reports to the user's error hook (runConsumer's onError, consumer()'s on_error). */
export interface LoopErrorInfo {
  error: KalamConsumerError;
  phase: 'connection' | 'commit' | 'gap';
  partitionId: number;
  /** For connection errors: the wait before the next try. */
  retryInMs?: number;
  /** For a failed commit: the offset it was for; for a gap: its first offset. */
  offset?: number;
  /** For phase 'gap' (code OFFSET_GAP): the offsets that never arrived and were given up. */
  gap?: OffsetGap;
}

export interface LoopReporterOptions {
  topic: string;
  logger: Logger;
  watch: ConnectionWatch;
  /** The user's error hook, already guarded (it must not throw). */
  report(info: LoopErrorInfo): void;
  /** consumer()'s on_gap, already guarded. */
  onGap?: ((error: KalamConsumerError, gap: OffsetGap) => void) | undefined;
}

/**
 * Turns partition-loop events into log lines (with the cause in words) and error-hook calls:
 * the one place for both APIs that run the loop. Partition -1 is a request of no partition
 * (reading the topic's metadata before any loop runs).
 */
export function loopReporter(o: LoopReporterOptions): PartitionReporter {
  return {
    connectionFailed(error, retryInMs, phase, partition) {
      const request = partition < 0 ? 'reading the topic' : `${phase === 'commit' ? 'ack' : 'consume'} ${o.topic}[${partition}]`;
      o.watch.failed(error, retryInMs, request);
      o.report({ error, phase, partitionId: partition < 0 ? 0 : partition, retryInMs });
    },
    connectionRecovered() {
      o.watch.recovered();
    },
    gapSkipped(error, gap, partition) {
      o.logger.warn(error.message);
      o.onGap?.(error, gap);
      o.report({ error, phase: 'gap', partitionId: partition, offset: gap.from, gap });
    },
    commitFailed(error, upto, partition) {
      o.logger.warn(`could not commit ${o.topic}[${partition}] up to offset ${upto}: ${describeFailure(error)}; those messages will be delivered again`);
      o.report({ error, phase: 'commit', partitionId: partition, offset: upto });
    },
  };
}
