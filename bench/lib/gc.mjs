// A full GC on demand without restarting Node with --expose-gc: used between timed segments
// so one side of a comparison does not pay for the garbage the other side left behind.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

let gc = globalThis.gc;
if (typeof gc !== 'function') {
  setFlagsFromString('--expose-gc');
  gc = runInNewContext('gc');
}

export function forceGc() {
  gc();
}
