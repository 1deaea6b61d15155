import type { FlagSpec, Parsed } from './args.js';

/** What a command reads and writes; main.ts passes the process's own. */
export interface Io {
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
  stdin: NodeJS.ReadStream;
  env: NodeJS.ProcessEnv;
  /** Aborted on Ctrl-C / SIGTERM: long-running commands stop and exit 0. */
  signal: AbortSignal;
}

export interface Command {
  name: string;
  /** One line for the command list. */
  summary: string;
  /** `kalam-consumer <name> ...` synopsis. */
  usage: string;
  /** Paragraphs after the synopsis in the command's --help. */
  details: string;
  flags: Record<string, FlagSpec>;
  /** Resolves to the exit code; throws UsageError (exit 2) or a server error (exit 1). */
  run(parsed: Parsed, io: Io): Promise<number>;
}
