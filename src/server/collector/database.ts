import { mkdirSync } from 'node:fs';
import type { PGlite as PGliteInstance } from '@electric-sql/pglite';
import { lockFolder } from './folder-lock';

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

/**
 * An embedded PostgreSQL in `dir` (created if missing). Opening an existing
 * folder takes under a second; a new one runs initdb (seconds). One process at a
 * time: while one has it open, another (or a second open in this one) is refused
 * with FolderInUse (folder-lock.ts).
 */
export async function openPGlite(dir: string): Promise<Database> {
  mkdirSync(dir, { recursive: true });
  const lock = lockFolder(dir);
  let db: PGliteInstance;
  try {
    const { PGlite } = await import('@electric-sql/pglite');
    db = await PGlite.create(dir);
  } catch (error) {
    lock.release();
    throw error;
  }
  // PGlite runs one statement at a time; its transaction() holds that one connection
  // for the whole transaction, and other queries wait for it.
  return {
    kind: 'pglite',
    query: (sql, params) => db.query(sql, params),
    transaction: (work) => db.transaction((tx) => work({ query: (sql, params) => tx.query(sql, params) })),
    exec: async (sql) => void (await db.exec(sql)),
    async close() {
      try {
        await db.close();
      } finally {
        lock.release();
      }
    },
  };
}

/**
 * Idle inside a transaction longer than this, a session is ended by the server
 * (idle_in_transaction_session_timeout), which rolls it back and frees its locks:
 * a collector that hangs mid-write (or whose host vanished with its TCP
 * connection open) holds its devices for at most this long (docs/scaling.md). A
 * healthy writer is idle in a transaction for milliseconds, between statements.
 */
export const IDLE_IN_TRANSACTION_MS = 10_000;

/** A PostgreSQL server through a pool of node-postgres connections. */
export async function openPostgres(url: string): Promise<Database> {
  const { default: pg } = await import('pg');
  const pool = new pg.Pool({
    connectionString: url,
    max: 8,
    application_name: 'sessionbeacon',
    // TCP keepalive notices a server that vanished; the timeout above, a client that did.
    keepAlive: true,
    idle_in_transaction_session_timeout: IDLE_IN_TRANSACTION_MS,
  });
  // An idle connection the server dropped must not crash the process: the pool replaces it.
  pool.on('error', () => {});
  await pool.query('SELECT 1');
  return {
    kind: 'postgres',
    query: async (sql, params) => ({ rows: (await pool.query(sql, params as unknown[])).rows }),
    async transaction(work) {
      const client = await pool.connect();
      let broken = false;
      // The server may end a connection mid-transaction (idle_in_transaction_session_timeout,
      // a failover, an administrator): a checked-out client emits that as 'error', which the
      // pool's handler does not see, and an unheard 'error' would end the process. The
      // transaction's next query fails instead, and the client is not given back.
      const lost = () => (broken = true);
      client.on('error', lost);
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
        client.off('error', lost);
        client.release(broken);
      }
    },
    exec: async (sql) => void (await pool.query(sql)),
    close: () => pool.end(),
  };
}

/** `--database` given: that server; else the embedded database under `dir`. */
export const openDatabase = (url: string | undefined, dir: string): Promise<Database> => (url ? openPostgres(url) : openPGlite(dir));
