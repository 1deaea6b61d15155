import { parseArgs } from 'node:util';
import { UsageError } from './usage.js';

// Flag parsing for every command, on node:util's parseArgs (strict: unknown flags and
// missing values are usage errors, never silently ignored).

export interface FlagSpec {
  type: 'string' | 'boolean';
  short?: string;
  /** Shown in --help after the flag; `value` names its argument. */
  help: string;
  value?: string;
}

/** Connection flags every command takes; the environment fills what is not given. */
export const CONNECTION_FLAGS: Record<string, FlagSpec> = {
  url: { type: 'string', value: 'URL', help: 'server URL (env KALAMDB_URL; default http://127.0.0.1:8080)' },
  user: { type: 'string', value: 'NAME', help: 'user for basic login (env KALAMDB_USER)' },
  password: { type: 'string', value: 'SECRET', help: 'its password (env KALAMDB_PASSWORD, which keeps it out of `ps`)' },
  token: { type: 'string', value: 'JWT', help: 'an access token instead of user and password (env KALAMDB_TOKEN)' },
  help: { type: 'boolean', short: 'h', help: 'show this help' },
};

export interface Parsed {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
}

/** Parses `argv` (after the command name) against the command's flags plus the connection flags. */
export function parseCommandArgs(command: string, argv: string[], flags: Record<string, FlagSpec>): Parsed {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = {};
  for (const [name, spec] of Object.entries({ ...flags, ...CONNECTION_FLAGS })) {
    options[name] = spec.short === undefined ? { type: spec.type } : { type: spec.type, short: spec.short };
  }
  try {
    const { values, positionals } = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
    return { values: values as Parsed['values'], positionals };
  } catch (error) {
    // parseArgs throws TypeErrors with ERR_PARSE_ARGS_* codes; its messages name the flag.
    const message = error instanceof Error ? error.message.split('\n')[0] ?? error.message : String(error);
    throw new UsageError(message.replace(/\. To specify a positional argument.*$/, ''), command);
  }
}

/** The one positional a command takes (the topic), or a usage error. */
export function onePositional(command: string, parsed: Parsed, name: string): string {
  const [first, ...rest] = parsed.positionals;
  if (first === undefined || first.trim() === '') throw new UsageError(`${command} needs a ${name}`, command);
  if (rest.length > 0) throw new UsageError(`${command} takes one ${name}, got also ${rest.map((r) => JSON.stringify(r)).join(' ')}`, command);
  return first;
}

/** A string flag's value, or a usage error when it is required and missing. */
export function stringFlag(parsed: Parsed, name: string, command: string, required: true): string;
export function stringFlag(parsed: Parsed, name: string, command: string, required?: false): string | undefined;
export function stringFlag(parsed: Parsed, name: string, command: string, required = false): string | undefined {
  const value = parsed.values[name];
  if (typeof value === 'string') {
    if (value.trim() === '') throw new UsageError(`--${name} must not be empty`, command);
    return value;
  }
  if (required) throw new UsageError(`${command} needs --${name}`, command);
  return undefined;
}
