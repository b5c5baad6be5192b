// @vitest-environment node
// The daily salts of cookieless devices in the database (src/server/collector/salts.ts,
// migration 5), on PGlite and PostgreSQL, with a fake clock: one salt a day
// whatever how many processes ask at once, the previous day's kept for its grace
// and then deleted, in the table and in memory, and never readable by the reader role.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Database } from '../src/server';
import { READER_ROLE } from '../src/server/collector/migrations';
import { Salts } from '../src/server/collector/salts';
import { saltDays } from '../src/server/sessionizer/cookieless';
import { backends } from './support/databases';

const H = 3_600_000;
const MIDNIGHT = Date.UTC(2026, 11, 2);

for (const backend of backends()) {
  describe(`salts on ${backend.name}`, () => {
    let db: Database;
    let clock = MIDNIGHT - H;
    const now = () => clock;
    const stored = async () =>
      (await db.query<{ day: string; salt: string }>(`SELECT to_char("day", 'YYYY-MM-DD') AS "day", encode("salt", 'hex') AS "salt" FROM atomic.salts ORDER BY "day"`)).rows;

    beforeAll(async () => {
      db = await backend.open();
    }, 60_000);
    afterAll(async () => {
      await db?.close();
      await backend.stop();
    });
    beforeEach(async () => {
      await db.exec('DELETE FROM atomic.salts');
      clock = MIDNIGHT - H;
    });

    it('one salt a day, shared by every process that asks, however many ask at once', async () => {
      // Two processes (two Salts over one database), each with requests racing for the first salt of the day.
      const a = new Salts(db, now);
      const b = new Salts(db, now);
      const got = await Promise.all(Array.from({ length: 12 }, (_, i) => (i % 2 ? a : b).current('2026-12-01')));
      expect(new Set(got.map((s) => s.toString('hex'))).size).toBe(1);
      expect(got[0]).toHaveLength(32);
      expect(await stored()).toEqual([{ day: '2026-12-01', salt: got[0].toString('hex') }]);
      // A process started later reads the same one.
      expect((await new Salts(db, now).current('2026-12-01')).equals(got[0])).toBe(true);
    });

    it('never makes a past day’s salt: there is no device of that day without one', async () => {
      expect(await new Salts(db, now).previous('2026-11-30')).toBeUndefined();
      expect(await stored()).toEqual([]);
    });

    it('keeps the previous day’s salt for its grace after midnight, then deletes it from the table and from memory', async () => {
      const process1 = new Salts(db, now);
      const process2 = new Salts(db, now);
      const yesterday = await process1.current('2026-12-01');
      clock = MIDNIGHT + 5 * 60_000;
      const today = await process1.current('2026-12-02');
      expect((await process2.previous('2026-12-01'))?.equals(yesterday)).toBe(true);
      expect(await process1.sweep()).toEqual([]);
      expect((await stored()).map((s) => s.day)).toEqual(['2026-12-01', '2026-12-02']);

      clock = MIDNIGHT + 2 * H - 1;
      expect(await process2.sweep()).toEqual([]);
      expect(saltDays(clock).previous).toBe('2026-12-01');

      // At 02:00 the previous day's salt is of no more use: the first process to sweep deletes it.
      clock = MIDNIGHT + 2 * H;
      expect(saltDays(clock).previous).toBeUndefined();
      expect(await process2.sweep()).toEqual(['2026-12-01']);
      expect(await stored()).toEqual([{ day: '2026-12-02', salt: today.toString('hex') }]);
      // The other process finds nothing to delete, and forgets its copy: zeroed, and gone from its memory.
      expect(await process1.sweep()).toEqual([]);
      expect(yesterday.equals(Buffer.alloc(32))).toBe(true);
      expect(await process1.previous('2026-12-01')).toBeUndefined();
      expect(await process2.previous('2026-12-01')).toBeUndefined();
      expect((await process1.current('2026-12-02')).equals(today)).toBe(true);
    });

    it('deletes every older salt a stopped collector left behind, on its first sweep', async () => {
      await db.query(`INSERT INTO atomic.salts ("day", "salt") VALUES ('2026-11-20', decode($1, 'hex')), ('2026-11-30', decode($1, 'hex'))`, ['ab'.repeat(32)]);
      clock = MIDNIGHT + 3 * H;
      expect(await new Salts(db, now).sweep()).toEqual(['2026-11-20', '2026-11-30']);
      expect(await stored()).toEqual([]);
    });

    it('the table is unlogged, and the reader role can neither read nor change it', async () => {
      const { rows } = await db.query<{ relpersistence: string }>(`SELECT relpersistence FROM pg_class WHERE oid = 'atomic.salts'::regclass`);
      expect(rows[0].relpersistence).toBe('u'); // never in the write-ahead log, so never in a WAL archive, replica or base backup
      await new Salts(db, now).current('2026-12-01');
      for (const sql of ['SELECT * FROM atomic.salts', `DELETE FROM atomic.salts`]) {
        const attempt = db.transaction(async (tx) => {
          await tx.query(`SET LOCAL ROLE ${READER_ROLE}`);
          await tx.query(sql);
        });
        await expect(attempt).rejects.toThrow(/permission denied/);
      }
      expect(await stored()).toHaveLength(1);
    });
  });
}
