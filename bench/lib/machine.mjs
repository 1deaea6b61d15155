// The machine description written next to the figures: numbers only mean something with it.
import os from 'node:os';

export function describeMachine() {
  const cpus = os.cpus();
  return {
    os: `${os.type()} ${os.release()} (${os.platform()}/${os.arch()})`,
    cpu_model: cpus[0]?.model?.trim() ?? 'unknown',
    cores: typeof os.availableParallelism === 'function' ? os.availableParallelism() : cpus.length,
    total_memory_mb: Math.round(os.totalmem() / 2 ** 20),
    node_version: process.version,
  };
}
