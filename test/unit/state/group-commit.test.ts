/**
 * GroupCommit over a real LevelDB database: what one turn asks for goes as
 * one batch with the last operation per key, reads see it before the disk
 * does, and only a batch somebody waits for is fsync'd under `waited`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClassicLevel } from 'classic-level';
import { afterAll, describe, expect, it } from 'vitest';
import { GroupCommit, type GroupCommitOptions, type Op } from '../../../src/state/embedded/group-commit.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A database whose batches are recorded (their operations and whether they were fsync'd). */
async function database(): Promise<{ db: ClassicLevel<string, string>; batches: Array<{ ops: Op[]; sync: boolean }> }> {
  const dir = mkdtempSync(join(tmpdir(), 'tg-group-commit-'));
  dirs.push(dir);
  const db = new ClassicLevel<string, string>(dir, { valueEncoding: 'utf8', keyEncoding: 'utf8' });
  await db.open();
  const batches: Array<{ ops: Op[]; sync: boolean }> = [];
  const batch = db.batch.bind(db) as (ops: Op[], options: { sync: boolean }) => Promise<void>;
  (db as unknown as { batch: typeof batch }).batch = (ops, options) => {
    batches.push({ ops: [...ops], sync: options.sync });
    return batch(ops, options);
  };
  return { db, batches };
}

async function commit(
  options: GroupCommitOptions,
): Promise<{ writes: GroupCommit; db: ClassicLevel<string, string>; batches: Array<{ ops: Op[]; sync: boolean }> }> {
  const { db, batches } = await database();
  return { writes: new GroupCommit(db, options), db, batches };
}

describe('GroupCommit', () => {
  it('writes the last operation per key of a turn as one batch, and reads it before it reaches disk', async () => {
    const { writes, db, batches } = await commit({ sync: 'waited' });
    writes.queue([{ type: 'put', key: 'a', value: '1' }]);
    writes.queue([
      { type: 'put', key: 'b', value: 'x' },
      { type: 'put', key: 'a', value: '2' },
    ]);
    writes.queue([{ type: 'del', key: 'b' }]);
    expect(writes.pending('a')).toEqual({ type: 'put', key: 'a', value: '2' });
    expect(writes.pending('b')).toEqual({ type: 'del', key: 'b' });
    expect(await db.get('a')).toBeUndefined();
    await writes.idle();
    expect(batches).toEqual([
      {
        ops: [
          { type: 'put', key: 'a', value: '2' },
          { type: 'del', key: 'b' },
        ],
        sync: false,
      },
    ]);
    expect(writes.pending('a')).toBeUndefined();
    expect(await db.get('a')).toBe('2');
    await writes.close();
  });

  it("fsyncs under 'waited' only a batch a write waits for; 'always' fsyncs every batch", async () => {
    const waited = await commit({ sync: 'waited' });
    waited.writes.queue([{ type: 'put', key: 'q', value: '1' }]);
    await waited.writes.idle();
    await waited.writes.write([{ type: 'put', key: 'w', value: '1' }]);
    expect(waited.batches.map((b) => b.sync)).toEqual([false, true]);
    await waited.writes.close();

    const always = await commit({ sync: 'always' });
    always.writes.queue([{ type: 'put', key: 'q', value: '1' }]);
    await always.writes.idle();
    expect(always.batches.map((b) => b.sync)).toEqual([true]);
    await always.writes.close();
  });

  it('rejects the writes waiting on a failed batch and reports it; the queued ones are lost', async () => {
    const errors: Error[] = [];
    const { writes, db } = await commit({ sync: 'waited', onWriteError: (err) => errors.push(err) });
    await db.close();
    writes.queue([{ type: 'put', key: 'lost', value: '1' }]);
    await expect(writes.write([{ type: 'put', key: 'k', value: '1' }])).rejects.toThrow();
    expect(errors).toHaveLength(1);
    expect(writes.pending('lost')).toBeUndefined();
  });
});
