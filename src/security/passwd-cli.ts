/**
 * `thinggate passwd FILE USER`: reads a password from standard input (the
 * first line; never from the command line, which other users can see) and
 * writes or updates USER's scrypt hash in the credentials file, keeping the
 * other users, their groups and attributes. The file is replaced atomically
 * (write aside, rename), so a watching gateway never reads half a file.
 */
import { readFileSync, renameSync, writeFileSync, existsSync } from 'node:fs';
import { stringify } from 'yaml';
import type { Subcommand } from '../util/subcommand.js';
import { parseCredentialsText } from './credentials-file.js';
import { hashPassword } from './scrypt.js';

const USAGE = 'thinggate passwd FILE USER   (the password is read from standard input)';

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

export const passwdSubcommand: Subcommand = {
  usage: USAGE,
  async run(args: string[]): Promise<number> {
    if (args.length !== 2 || args[1]!.length === 0) {
      process.stderr.write(`usage: ${USAGE}\n`);
      return 2;
    }
    const [file, user] = args as [string, string];
    const input = await readStdin();
    const nl = input.indexOf(0x0a);
    let password = nl < 0 ? input : input.subarray(0, nl);
    if (password.at(-1) === 0x0d) password = password.subarray(0, -1);
    if (password.length === 0) {
      process.stderr.write('thinggate passwd: empty password on standard input\n');
      return 2;
    }
    try {
      const doc = existsSync(file) ? parseCredentialsText(readFileSync(file, 'utf8'), file) : {};
      const users = (doc.users ?? {}) as Record<string, Record<string, unknown> | null>;
      users[user] = { ...(users[user] ?? {}), password: await hashPassword(password) };
      const text = file.endsWith('.json') ? `${JSON.stringify({ ...doc, users }, null, 2)}\n` : stringify({ ...doc, users });
      const tmp = `${file}.${process.pid}.tmp`;
      writeFileSync(tmp, text, { mode: 0o600 });
      renameSync(tmp, file);
    } catch (err) {
      process.stderr.write(`thinggate passwd: ${(err as Error).message}\n`);
      return 1;
    }
    process.stderr.write(`thinggate passwd: ${user} written to ${file}\n`);
    return 0;
  },
};
