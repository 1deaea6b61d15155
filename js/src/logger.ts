import { invalidOption } from './errors.js';

/**
 * Where the runtime says what it is doing and why it is not making progress. `console`, pino
 * and winston loggers fit as they are: every call passes one string.
 */
export interface Logger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

/** A `logger` option: a logger, or `false` for silence (the hooks still fire). */
export type LoggerOption = Logger | false | undefined;

const LEVELS = ['debug', 'info', 'warn', 'error'] as const;
type Level = (typeof LEVELS)[number];

const SILENT: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/**
 * The default: the console, prefixed so the lines are recognisable in a worker's output.
 * `debug` is dropped (a default logger that prints every poll would drown what matters).
 */
function consoleLogger(prefix: string): Logger {
  return {
    debug() {},
    info: (message) => console.info(`${prefix} ${message}`),
    warn: (message) => console.warn(`${prefix} ${message}`),
    error: (message) => console.error(`${prefix} ${message}`),
  };
}

/**
 * Resolves the `logger` option. A logger that throws never stops the worker: each call is
 * guarded, as a broken log sink must not turn into a stalled partition.
 */
export function resolveLogger(option: unknown, name: string): Logger {
  if (option === false) return SILENT;
  if (option === undefined || option === null) return guarded(consoleLogger(`[@kalamdb/consumer] ${name}:`));
  if (typeof option !== 'object' && typeof option !== 'function') {
    throw invalidOption('logger must be an object with debug, info, warn and error methods, or false');
  }
  const candidate = option as Partial<Record<Level, unknown>>;
  for (const level of LEVELS) {
    if (typeof candidate[level] !== 'function') {
      throw invalidOption(`logger.${level} must be a function (console, pino and winston loggers fit), or pass logger: false`);
    }
  }
  return guarded(option as Logger);
}

function guarded(logger: Logger): Logger {
  const wrap = (level: Level) => (message: string) => {
    try {
      logger[level](message);
    } catch {
      /* a failing log sink must not stop the worker */
    }
  };
  return { debug: wrap('debug'), info: wrap('info'), warn: wrap('warn'), error: wrap('error') };
}
