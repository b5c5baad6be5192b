import { mkdirSync } from 'node:fs';

/**
 * One interface over the two databases the collector runs on: an embedded
 * PostgreSQL (PGlite, in a folder) and a PostgreSQL server (node-postgres). The
 * same SQL runs on both; parameters are passed as text or JSON and cast in SQL,
 * so neither driver's type conversion decides what is stored.
 */
export interface Queryable {
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<{ rows: T[] }>;
}

export interface Database extends Queryable {
  readonly kind: 'pglite' | 'postgres';
  /** Runs `work` in one transaction: committed when it resolves, rolled back when it throws. */
  transaction<T>(work: (tx: Queryable) => Promise<T>): Promise<T>;
  /** Runs several statements without parameters (migrations). */
  exec(sql: string): Promise<void>;
  close(): Promise<void>;
}

/** An embedded PostgreSQL in `dir` (created if missing). Opening an existing folder takes under a second; a new one runs initdb (seconds). */
export async function openPGlite(dir: string): Promise<Database> {
  mkdirSync(dir, { recursive: true });
  const { PGlite } = await import('@electric-sql/pglite');
  const db = await PGlite.create(dir);
  // PGlite runs one statement at a time; its transaction() holds that one connection
  // for the whole transaction, and other queries wait for it.
  return {
    kind: 'pglite',
    query: (sql, params) => db.query(sql, params),
    transaction: (work) => db.transaction((tx) => work({ query: (sql, params) => tx.query(sql, params) })),
    exec: async (sql) => void (await db.exec(sql)),
    close: () => db.close(),
  };
}

/** A PostgreSQL server through a pool of node-postgres connections. */
export async function openPostgres(url: string): Promise<Database> {
  const { default: pg } = await import('pg');
  const pool = new pg.Pool({ connectionString: url, max: 8 });
  // An idle connection the server dropped must not crash the process: the pool replaces it.
  pool.on('error', () => {});
  await pool.query('SELECT 1');
  return {
    kind: 'postgres',
    query: async (sql, params) => ({ rows: (await pool.query(sql, params as unknown[])).rows }),
    async transaction(work) {
      const client = await pool.connect();
      let broken = false;
      try {
        await client.query('BEGIN');
        const result = await work({ query: async (sql, params) => ({ rows: (await client.query(sql, params as unknown[])).rows }) });
        await client.query('COMMIT');
        return result;
      } catch (error) {
        // A connection that cannot even roll back is not given back to the pool.
        await client.query('ROLLBACK').catch(() => (broken = true));
        throw error;
      } finally {
        client.release(broken);
      }
    },
    exec: async (sql) => void (await pool.query(sql)),
    close: () => pool.end(),
  };
}

/** `--database` given: that server; else the embedded database under `dir`. */
export const openDatabase = (url: string | undefined, dir: string): Promise<Database> => (url ? openPostgres(url) : openPGlite(dir));
