import process from 'node:process';
import { VERSION } from '@kalamdb/consumer';
import { parseCommandArgs } from './args.js';
import type { Command, Io } from './command.js';
import { ack } from './commands/ack.js';
import { lag } from './commands/lag.js';
import { peek } from './commands/peek.js';
import { tail } from './commands/tail.js';
import { serverUrlFromEnv } from './connect.js';
import { describeError, scrub } from './describe-error.js';
import { commandHelp, mainHelp } from './help.js';
import { UsageError } from './usage.js';

// `kalam-consumer <command>`: the package's bin (dist/cli.js, `npx @kalamdb/consumer`).
// Dispatches to a command, maps every failure to a message and an exit code (README
// "Command line"), and keeps passwords and tokens out of everything it prints.

const COMMANDS: Command[] = [tail, peek, lag, ack];

async function main(argv: string[], io: Io): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    const topic = name === 'help' ? COMMANDS.find((c) => c.name === rest[0]) : undefined;
    io.stdout.write(`${topic ? commandHelp(topic) : mainHelp(COMMANDS, VERSION)}\n`);
    return 0;
  }
  if (name === '--version' || name === '-V') {
    io.stdout.write(`${VERSION}\n`);
    return 0;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) {
    const known = COMMANDS.map((c) => c.name).join(', ');
    throw new UsageError(name.startsWith('-') ? `a command comes first (${known}), got ${name}` : `unknown command ${JSON.stringify(name)} (commands: ${known})`);
  }
  // --help anywhere wins over whatever else is wrong on the line.
  if (rest.includes('--help') || rest.includes('-h')) {
    io.stdout.write(`${commandHelp(command)}\n`);
    return 0;
  }
  return command.run(parseCommandArgs(command.name, rest, command.flags), io);
}

/** Values of --password / --token (either spelling) and their environment variables. */
function secretsIn(argv: string[], env: NodeJS.ProcessEnv): string[] {
  const secrets: string[] = [];
  argv.forEach((arg, i) => {
    for (const flag of ['--password', '--token']) {
      if (arg === flag && argv[i + 1] !== undefined) secrets.push(argv[i + 1] as string);
      if (arg.startsWith(`${flag}=`)) secrets.push(arg.slice(flag.length + 1));
    }
  });
  for (const name of ['KALAMDB_PASSWORD', 'KALAMDB_TOKEN']) {
    const value = env[name];
    if (value) secrets.push(value);
  }
  return secrets;
}

const argv = process.argv.slice(2);
const stop = new AbortController();
let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    // The first Ctrl-C stops cleanly (tail exits 0); a second one does not wait.
    if (interrupted) process.exit(130);
    interrupted = true;
    stop.abort();
  });
}
// `kalam-consumer tail t | head -3`: a closed pipe ends the output, not in a stack trace.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});

const io: Io = { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env, signal: stop.signal };
let code: number;
try {
  code = await main(argv, io);
} catch (error) {
  const described = describeError(error, urlFlag(argv) ?? serverUrlFromEnv(process.env));
  let text = `kalam-consumer: ${described.message}`;
  if (described.exitCode === 2) {
    const command = error instanceof UsageError ? error.command : undefined;
    text += `\nRun 'kalam-consumer ${command ? `${command} --help` : '--help'}' for usage.`;
  }
  process.stderr.write(`${scrub(text, secretsIn(argv, process.env))}\n`);
  code = described.exitCode;
}
process.exitCode = code;
// Idle keep-alive sockets may hold the event loop for a few seconds; this timer does not
// keep the process alive itself, it only ends a wait that nothing needs any more.
setTimeout(() => process.exit(code), 500).unref();

function urlFlag(args: string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === '--url') return args[i + 1];
    if (arg.startsWith('--url=')) return arg.slice('--url='.length);
  }
  return undefined;
}
