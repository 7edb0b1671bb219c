/**
 * `password` authenticator: user name and password checked against a
 * credentials file of scrypt hashes (credentials-file.ts). The file is read
 * again when it changes and on SIGHUP (which rebuilds the configuration);
 * a file that no longer parses keeps the previous users and is logged.
 * An unknown user passes to the next step; a known one with a wrong
 * password is denied (401).
 */
import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { Logger } from 'pino';
import type { ClientInfo } from '../envelope/index.js';
import { NEXT, deny, type AuthResult, type Authenticator } from './authenticator.js';
import { readCredentials, type UserEntry } from './credentials-file.js';
import { verifyPassword } from './scrypt.js';
import { VerifiedCache } from './verified-cache.js';

export interface PasswordAuthOptions {
  /** Absolute path of the credentials file. */
  readonly file: string;
  /** How long a verified user/password pair is trusted without scrypt; 0 disables the cache. */
  readonly cacheTtlMs: number;
  readonly cacheMaxEntries: number;
  /** Re-read the file when it changes. */
  readonly watch: boolean;
}

export class PasswordAuthenticator implements Authenticator {
  readonly type = 'password';
  private users: Map<string, UserEntry>;
  private readonly cache: VerifiedCache<true>;
  private readonly pending = new Map<string, Promise<boolean>>();
  private watcher?: FSWatcher;
  private reloadTimer?: NodeJS.Timeout;

  /** Reads the file at once: a missing or malformed file fails the configuration. */
  constructor(
    private readonly options: PasswordAuthOptions,
    private readonly logger: Logger,
  ) {
    this.users = readCredentials(options.file);
    this.cache = new VerifiedCache(options.cacheMaxEntries, options.cacheTtlMs);
    if (options.watch) this.watchFile();
  }

  async authenticate(client: ClientInfo): Promise<AuthResult> {
    if (client.username === undefined || client.password === undefined) return NEXT;
    const user = this.users.get(client.username);
    if (!user) return NEXT;
    const key = VerifiedCache.key(client.username, client.password);
    if (this.cache.get(key) || (await this.verifyOnce(key, client.password, user))) {
      this.cache.set(key, true);
      return {
        kind: 'allow',
        identity: Object.freeze({ principal: client.username, method: 'password', attributes: user.attributes, groups: user.groups }),
        ...(user.acl && { acl: user.acl }),
      };
    }
    return deny(401, 'bad user name or password');
  }

  /**
   * One scrypt per user and password at a time: clients reconnecting together
   * with the same credentials wait for the first one's verification.
   */
  private verifyOnce(key: string, password: Buffer, user: UserEntry): Promise<boolean> {
    let p = this.pending.get(key);
    if (!p) {
      p = verifyPassword(password, user.hash).finally(() => this.pending.delete(key));
      this.pending.set(key, p);
    }
    return p;
  }

  /** Re-reads the credentials file; the verified cache is emptied so a removed user or changed password takes effect at once. */
  reload(): void {
    try {
      this.users = readCredentials(this.options.file);
      this.cache.clear();
      this.logger.info({ file: this.options.file, users: this.users.size }, 'credentials reloaded');
    } catch (err) {
      this.logger.warn({ file: this.options.file, err: (err as Error).message }, 'credentials file not reloaded: keeping the previous users');
    }
  }

  close(): void {
    this.watcher?.close();
    if (this.reloadTimer) clearTimeout(this.reloadTimer);
  }

  /** Watches the folder, not the file: editors and `thinggate passwd` replace the file by renaming over it. */
  private watchFile(): void {
    const name = basename(this.options.file);
    try {
      this.watcher = watch(dirname(this.options.file), (_event, changed) => {
        if (changed !== null && changed !== name) return;
        // One change is often several events: settle first.
        if (this.reloadTimer) clearTimeout(this.reloadTimer);
        this.reloadTimer = setTimeout(() => this.reload(), 50);
        this.reloadTimer.unref();
      });
      this.watcher.on('error', (err) => this.logger.warn({ err: err.message, file: this.options.file }, 'credentials watch failed'));
      this.watcher.unref();
    } catch (err) {
      this.logger.warn({ err: (err as Error).message, file: this.options.file }, 'credentials file not watched; reload with SIGHUP');
    }
  }
}
