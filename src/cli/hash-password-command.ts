import { hashPassword } from '../access/password.js';
import { FramecastError } from '../errors.js';

export const HASH_PASSWORD_HELP = `Usage: framecast hash-password < PASSWORD_FILE

Prints a scrypt hash of the password read from standard input (one line; a final newline is not part
of it), for a user's password in the config file's auth.users. On a terminal it asks for the password
without echoing it. The password never appears in arguments, the environment or the output.

  printf '%s' "$PASSWORD" | framecast hash-password`;

const MAX_PASSWORD_BYTES = 1024;

/** Reads the password: a terminal without echo, else standard input to its end. */
async function readPassword(): Promise<string> {
  const stdin = process.stdin;
  if (stdin.isTTY) {
    process.stderr.write('password: ');
    stdin.setRawMode(true);
    stdin.resume();
    const chars: string[] = [];
    try {
      await new Promise<void>((resolve, reject) => {
        const onData = (chunk: Buffer): void => {
          for (const ch of chunk.toString('utf8')) {
            if (ch === '\r' || ch === '\n' || ch === '\u0004') {
              stdin.off('data', onData);
              return resolve();
            }
            if (ch === '\u0003') {
              stdin.off('data', onData);
              return reject(new FramecastError('ERR_USAGE', 'cancelled'));
            }
            if (ch === '\u007f' || ch === '\b') chars.pop();
            else chars.push(ch);
          }
        };
        stdin.on('data', onData);
      });
    } finally {
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
    }
    return chars.join('');
  }
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of stdin) {
    size += (chunk as Buffer).length;
    if (size > MAX_PASSWORD_BYTES + 2)
      throw new FramecastError('ERR_USAGE', `the password is over ${MAX_PASSWORD_BYTES} bytes`);
    parts.push(chunk as Buffer);
  }
  return Buffer.concat(parts)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

/** `framecast hash-password`: 0, or 2 for an empty or oversized password. */
export async function hashPasswordCommand(args: string[]): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(`${HASH_PASSWORD_HELP}\n`);
    return 0;
  }
  if (args.length > 0)
    throw new FramecastError(
      'ERR_USAGE',
      `hash-password takes no arguments (the password comes on standard input), got ${args[0]}`,
    );
  const password = await readPassword();
  if (password === '')
    throw new FramecastError('ERR_USAGE', 'the password is empty (give it on standard input)');
  if (Buffer.byteLength(password) > MAX_PASSWORD_BYTES)
    throw new FramecastError('ERR_USAGE', `the password is over ${MAX_PASSWORD_BYTES} bytes`);
  process.stdout.write(`${await hashPassword(password)}\n`);
  return 0;
}
