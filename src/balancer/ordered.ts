/**
 * Ordered delivery: one key's tasks run one at a time, in arrival order;
 * different keys run concurrently. Waiting tasks are counted so the pool can
 * bound them together with its pending queue.
 */
export class KeyedSerializer {
  private readonly queues = new Map<string, Array<() => void>>();
  /** Tasks waiting behind another task of their key. */
  waiting = 0;

  /** True while a task of `key` runs. */
  busy(key: string): boolean {
    return this.queues.has(key);
  }

  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const queue = this.queues.get(key);
    if (queue === undefined) {
      this.queues.set(key, []);
      return this.execute(key, task);
    }
    this.waiting++;
    return new Promise<T>((resolve, reject) => {
      queue.push(() => {
        this.waiting--;
        this.execute(key, task).then(resolve, reject);
      });
    });
  }

  private async execute<T>(key: string, task: () => Promise<T>): Promise<T> {
    try {
      return await task();
    } finally {
      const queue = this.queues.get(key)!;
      const next = queue.shift();
      if (next) next();
      else this.queues.delete(key);
    }
  }
}
