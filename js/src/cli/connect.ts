import { Auth, createConsumerClient, type ConsumerClient } from '@kalamdb/consumer';
import type { Parsed } from './args.js';
import type { Io } from './command.js';
import { UsageError } from './usage.js';

/** KalamDB's default port (the dev server's is 2900). */
const DEFAULT_URL = 'http://127.0.0.1:8080';

export interface Connection {
  client: ConsumerClient;
  url: string;
  /** Passwords and tokens in use: error output is scrubbed of them. */
  secrets: string[];
}

/**
 * A client from the flags, falling back to KALAMDB_URL / KALAMDB_USER / KALAMDB_PASSWORD /
 * KALAMDB_TOKEN. Flags win over the environment as a whole: `--user` with a KALAMDB_TOKEN
 * in the environment logs in as that user (taking KALAMDB_PASSWORD if --password is absent).
 */
export function connect(parsed: Parsed, io: Io, command: string): Connection {
  const flag = (name: string) => {
    const value = parsed.values[name];
    return typeof value === 'string' && value !== '' ? value : undefined;
  };
  const env = (name: string) => (io.env[name] !== undefined && io.env[name] !== '' ? io.env[name] : undefined);
  const url = flag('url') ?? serverUrlFromEnv(io.env);
  checkUrl(url, command);

  let credentials;
  let secret: string;
  const user = flag('user') ?? (flag('token') ? undefined : env('KALAMDB_USER'));
  const token = flag('token') ?? (flag('user') ? undefined : env('KALAMDB_TOKEN'));
  if (flag('user') && flag('token')) throw new UsageError('pass --user/--password or --token, not both', command);
  if (token !== undefined && user === undefined) {
    credentials = Auth.jwt(token);
    secret = token;
  } else if (user !== undefined) {
    const password = flag('password') ?? env('KALAMDB_PASSWORD');
    if (password === undefined) throw new UsageError(`no password for user ${user}: pass --password or set KALAMDB_PASSWORD`, command);
    credentials = Auth.basic(user, password);
    secret = password;
  } else {
    throw new UsageError('no credentials: pass --user and --password, or --token (or set KALAMDB_USER and KALAMDB_PASSWORD, or KALAMDB_TOKEN)', command);
  }
  const client = createConsumerClient({
    url,
    authProvider: credentials,
    // A person is waiting: one login attempt, and the cause of a failure shown at once.
    authProviderMaxAttempts: 1,
  });
  return { client, url, secrets: [secret] };
}

/** KALAMDB_URL, or KalamDB's default address. */
export function serverUrlFromEnv(env: NodeJS.ProcessEnv): string {
  return env['KALAMDB_URL'] || DEFAULT_URL;
}

/** Bad URLs are usage errors; credentials inside one would be printed with it, so they are refused. */
function checkUrl(url: string, command: string): void {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError(`--url is not a URL: ${JSON.stringify(url)}`, command);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new UsageError(`--url must start with http:// or https://, got ${parsed.protocol}//`, command);
  if (parsed.username !== '' || parsed.password !== '') throw new UsageError('--url must not hold credentials: use --user/--password or --token', command);
}
