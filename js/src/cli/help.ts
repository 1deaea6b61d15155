import { CONNECTION_FLAGS, type FlagSpec } from './args.js';
import type { Command } from './command.js';

// --help texts, built from the same flag tables the parser uses so they cannot drift apart.

const ENVIRONMENT = [
  'Environment: KALAMDB_URL, KALAMDB_USER, KALAMDB_PASSWORD, KALAMDB_TOKEN stand in for',
  'the flags (flags win). A token is used when no user is given.',
].join('\n');

const EXIT_CODES = 'Exit codes: 0 done, 1 server or connection error (or a declined ack), 2 usage error.';

export function commandHelp(command: Command): string {
  return [
    `usage: ${command.usage}`,
    '',
    command.details,
    '',
    'Options:',
    flagLines(command.flags),
    '',
    'Connection:',
    flagLines(CONNECTION_FLAGS),
    '',
    ENVIRONMENT,
    EXIT_CODES,
  ].join('\n');
}

export function mainHelp(commands: Command[], version: string): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    `kalam-consumer ${version}: look at KalamDB topics and consumer groups`,
    '',
    'usage: kalam-consumer <command> [options]',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    '`kalam-consumer <command> --help` for its options.',
    '',
    'Connection (every command):',
    flagLines(CONNECTION_FLAGS),
    '',
    ENVIRONMENT,
    EXIT_CODES,
  ].join('\n');
}

function flagLines(flags: Record<string, FlagSpec>): string {
  const names = Object.entries(flags).map(([name, spec]) => {
    const short = spec.short ? `-${spec.short}, ` : '';
    return [`${short}--${name}${spec.value ? ` ${spec.value}` : ''}`, spec.help] as const;
  });
  const width = Math.max(...names.map(([left]) => left.length));
  return names.map(([left, help]) => `  ${left.padEnd(width)}  ${help}`).join('\n');
}
