// The process warnings (`process.on('warning')`) emitted while a piece of a test runs, as
// "Name: message" lines. Node emits a warning on a later tick, so the window stays open for
// `settleMs` after `fn` settles.

/** @param {() => unknown} fn @param {number} [settleMs] @returns {Promise<string[]>} */
export async function warningsDuring(fn, settleMs = 50) {
  const warnings = [];
  const onWarning = (warning) => warnings.push(`${warning.name}: ${warning.message}`);
  process.on('warning', onWarning);
  try {
    await fn();
    await new Promise((resolve) => setTimeout(resolve, settleMs));
  } finally {
    process.off('warning', onWarning);
  }
  return warnings;
}
