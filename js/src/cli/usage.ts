// A usage error: the command line itself is wrong (unknown command or flag, missing or bad
// value). main.ts prints it with a hint to --help and exits with code 2, so scripts can tell
// "you called me wrong" from "the server said no" (code 1).
export class UsageError extends Error {
  override readonly name = 'UsageError';

  /** `command` names the subcommand whose --help the hint points to. */
  constructor(
    message: string,
    readonly command?: string,
  ) {
    super(message);
  }
}

/** A whole number >= 0 (an offset, a partition), or a usage error naming the flag. */
export function nonNegativeInteger(flag: string, text: string): number {
  const value = /^\d+$/.test(text.trim()) ? Number(text.trim()) : Number.NaN;
  if (!Number.isSafeInteger(value)) throw new UsageError(`${flag} must be a whole number >= 0, got ${JSON.stringify(text)}`);
  return value;
}

/** A whole number >= 1 (a limit, a count). */
export function positiveInteger(flag: string, text: string): number {
  const value = nonNegativeInteger(flag, text);
  if (value === 0) throw new UsageError(`${flag} must be at least 1, got ${JSON.stringify(text)}`);
  return value;
}

/** earliest, latest or an offset, for --from and --start. */
export function startPosition(flag: string, text: string): 'earliest' | 'latest' | { offset: number } {
  const lower = text.trim().toLowerCase();
  if (lower === 'earliest' || lower === 'latest') return lower;
  if (!/^\d+$/.test(lower)) throw new UsageError(`${flag} must be earliest, latest or an offset, got ${JSON.stringify(text)}`);
  return { offset: nonNegativeInteger(flag, text) };
}

/** "0,2, 3" -> [0, 2, 3] (duplicates dropped). */
export function partitionList(flag: string, text: string): number[] {
  const parts = text.split(',').map((part) => part.trim());
  if (parts.some((part) => part === '')) throw new UsageError(`${flag} takes partition numbers separated by commas, got ${JSON.stringify(text)}`);
  return [...new Set(parts.map((part) => nonNegativeInteger(flag, part)))];
}
