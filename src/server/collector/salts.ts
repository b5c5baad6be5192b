import { randomBytes } from 'node:crypto';
import { oldestUsableDay } from '../sessionizer/cookieless';
import type { Queryable } from './database';

/**
 * The salts of cookieless devices (docs/privacy.md): one random 32-byte salt per
 * UTC day in atomic.salts (migration 5), shared by every collector process on the
 * database, and deleted once no request may use it (SALT_GRACE after the next
 * midnight), so that no device of that day can be derived again from an IP and a
 * User-Agent. One owner: this file is the only reader and writer of the table.
 */
export class Salts {
  /** day -> its salt; undefined: that day has none (a past day's is never made). Promises, so that concurrent requests ask once. */
  private readonly cache = new Map<string, Promise<Buffer | undefined>>();

  constructor(
    private readonly db: Queryable,
    private readonly now: () => number,
  ) {}

  /**
   * Today's salt (`day` is the UTC day of now), made if no process made it yet:
   * every process inserts its own candidate, the first one wins
   * (ON CONFLICT DO NOTHING), and all read back that one.
   */
  current(day: string): Promise<Buffer> {
    return this.cached(day, async () => {
      await this.db.query(`INSERT INTO atomic.salts ("day", "salt") VALUES ($1::date, decode($2, 'hex')) ON CONFLICT ("day") DO NOTHING`, [
        day,
        randomBytes(32).toString('hex'),
      ]);
      const salt = await this.read(day);
      if (!salt) throw new Error(`the salt of ${day} was deleted while it was made (is a collector's clock wrong?)`);
      return salt;
    }) as Promise<Buffer>;
  }

  /** The previous day's salt if one was made: never made now, as no device of that day exists without it. */
  previous(day: string): Promise<Buffer | undefined> {
    return this.cached(day, () => this.read(day));
  }

  /**
   * Deletes the salts no request may use any more (older than oldestUsableDay),
   * in the database and in this process, and rewrites the table so that the
   * deleted rows' bytes do not stay in its file (VACUUM FULL). Returns the days
   * deleted from the database. Every process runs it (app.ts): the first one
   * after the moment deletes.
   */
  async sweep(): Promise<string[]> {
    const oldest = oldestUsableDay(this.now());
    for (const [day, salt] of this.cache)
      if (day < oldest) {
        this.cache.delete(day);
        salt.then((s) => s?.fill(0), () => {});
      }
    const { rows } = await this.db.query<{ day: string }>(`DELETE FROM atomic.salts WHERE "day" < $1::date RETURNING to_char("day", 'YYYY-MM-DD') AS "day"`, [oldest]);
    if (rows.length) await this.db.query('VACUUM FULL atomic.salts');
    return rows.map((r) => r.day).sort();
  }

  private cached(day: string, load: () => Promise<Buffer | undefined>): Promise<Buffer | undefined> {
    let salt = this.cache.get(day);
    if (!salt) {
      salt = load();
      this.cache.set(day, salt);
      // A failure is not kept: the next request asks again.
      salt.catch(() => this.cache.get(day) === salt && this.cache.delete(day));
    }
    return salt;
  }

  private async read(day: string): Promise<Buffer | undefined> {
    const { rows } = await this.db.query<{ salt: string }>(`SELECT encode("salt", 'hex') AS "salt" FROM atomic.salts WHERE "day" = $1::date`, [day]);
    return rows.length ? Buffer.from(rows[0].salt, 'hex') : undefined;
  }
}
