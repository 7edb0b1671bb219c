/**
 * Watches one script file (`scripts.watch`) and calls back once edits have
 * settled for `debounceMs`. It watches the folder, not the file: editors
 * replace files by rename, which ends a watch on the file itself. A watch
 * that fails is logged and stopped; SIGHUP still reloads.
 */
import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { Logger } from 'pino';

export class ScriptFileWatch {
  private watcher: FSWatcher | undefined;
  private debounce: NodeJS.Timeout | undefined;

  constructor(
    private readonly absPath: string,
    /** Read at each change, so a reload's new `scripts.debounceMs` applies. */
    private readonly debounceMs: () => number,
    private readonly onChange: () => void,
    private readonly logger: Logger,
  ) {}

  /** Starts watching when `on` and not watching yet; stops when not `on`. */
  enable(on: boolean): void {
    if (on && !this.watcher) this.start();
    if (!on && this.watcher) this.stop();
  }

  stop(): void {
    clearTimeout(this.debounce);
    this.watcher?.close();
    this.watcher = undefined;
  }

  private start(): void {
    const file = basename(this.absPath);
    try {
      this.watcher = watch(dirname(this.absPath), { persistent: false }, (_event, changed) => {
        if (changed !== null && changed !== file) return;
        clearTimeout(this.debounce);
        this.debounce = setTimeout(this.onChange, this.debounceMs());
        this.debounce.unref();
      });
      this.watcher.on('error', (err) => {
        this.logger.warn({ err }, 'script file watch failed; reload with SIGHUP');
        this.stop();
      });
    } catch (err) {
      this.logger.warn({ err }, 'cannot watch the script file; reload with SIGHUP');
    }
  }
}
