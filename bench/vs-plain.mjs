// Figure `throughput.vs_plain` (issue 10): runConsumer with a no-op handler against the honest
// baseline, a hand-written fetch loop that acks once per batch (memory-worker.mjs `plain`), on
// the same in-memory stub server (lib/stub-server.mjs), at the same batch size, in interleaved
// rounds. Each run is a child process of its own (the same runner as the memory figure, sampling
// only at the start and the end), so one run's JIT and heap never help the other's.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runChild } from './memory.mjs';
import { startStubServer } from './lib/stub-server.mjs';
import { median } from './lib/stats.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const TARGET = 0.9;

export async function runVsPlain({ messages = 60_000, rounds = 3, batches = [100, 1000], log }) {
  const rates = new Map();
  for (let round = 0; round < rounds; round++) {
    for (const batch of batches) {
      const modes = round % 2 === 0 ? ['package', 'plain'] : ['plain', 'package'];
      for (const mode of modes) {
        const rate = await timeRun(mode, batch, messages);
        log(`vs_plain round ${round + 1} batch ${batch} ${mode}: ${Math.round(rate)} msg/s`);
        const key = `${mode}:${batch}`;
        rates.set(key, [...(rates.get(key) ?? []), rate]);
      }
    }
  }
  return batches.map((batch) => {
    const value = median(rates.get(`package:${batch}`));
    const baseline = median(rates.get(`plain:${batch}`));
    const ratio = value / baseline;
    return {
      id: `throughput.vs_plain_${batch}`,
      figure: `throughput vs a plain fetch loop (batch ack), batch ${batch} (msg/s)`,
      unit: 'msg/s', value, baseline, ratio, target: `>= ${TARGET}x`, pass: ratio >= TARGET,
      detail: { rounds_value: rates.get(`package:${batch}`), rounds_baseline: rates.get(`plain:${batch}`), messages_per_run: messages },
    };
  });
}

async function timeRun(mode, batch, total) {
  const topic = 'bench.vs_plain';
  const stub = await startStubServer({ topic, total });
  try {
    const result = await runChild([path.join(HERE, 'memory-worker.mjs'), mode, stub.url, topic, String(total), String(batch), String(total)]);
    if (result.failure || result.count < total) throw new Error(`${mode} batch ${batch}: ${result.count}/${total} messages; ${result.failure ?? ''}`);
    return (result.count / result.ms) * 1000;
  } finally {
    await stub.close();
  }
}
