// The two databases the collector's tests run against: an embedded PGlite in a
// temporary folder, and a real PostgreSQL server (a throwaway cluster on
// loopback, from Debian's packages; or SESSIONBEACON_PG_URL). In CI both must run:
// a missing PostgreSQL fails there instead of skipping.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { migrate, openPGlite, openPostgres, type Database } from '../../src/server';
import type { StoredEvent } from '../../src/server/sessionizer/request';
import { sessionizeDevice } from '../../src/server/sessionizer/device';
import type { SessionRow } from '../../src/server/sessionizer/row';
import { SESSION_SELECT, sessionRow } from '../../src/server/collector/store';
import { PG_BIN, postgresAvailable, startPostgres, type Postgres } from './processes.mjs';

export interface Backend {
  name: 'pglite' | 'postgres';
  /** Opens a fresh, migrated, empty database. */
  open(): Promise<Database>;
  /** Stops what open() started. */
  stop(): Promise<void>;
}

export function pgliteBackend(): Backend {
  const dirs: string[] = [];
  return {
    name: 'pglite',
    async open() {
      const dir = mkdtempSync(join(tmpdir(), 'sb-pglite-'));
      dirs.push(dir);
      const db = await openPGlite(dir);
      await migrate(db);
      return db;
    },
    async stop() {
      for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    },
  };
}

export { postgresAvailable };

export function postgresBackend(): Backend & { createDatabase(): Promise<string> } {
  let server: Postgres | undefined;
  let databases = 0;
  return {
    name: 'postgres',
    /** A new empty database (the server is started on first use); its URL. */
    async createDatabase() {
      server ??= startPostgres();
      // A database per test file or case: tests never see each other's rows.
      const name = `sb_test_${process.pid}_${++databases}`;
      const admin = await openPostgres(server.url('postgres'));
      await admin.exec(`CREATE DATABASE ${name}`);
      await admin.close();
      return server.url(name);
    },
    async open() {
      const db = await openPostgres(await this.createDatabase());
      await migrate(db);
      return db;
    },
    async stop() {
      server?.stop();
      server = undefined;
    },
  };
}

/** The backends to run: both, PostgreSQL skipped (with a warning) only outside CI when it is not installed. */
export function backends(): Backend[] {
  if (postgresAvailable()) return [pgliteBackend(), postgresBackend()];
  if (process.env.CI) throw new Error(`PostgreSQL not found at ${PG_BIN} (install Debian's postgresql, or set SESSIONBEACON_PG_URL)`);
  console.warn(`collector tests: PostgreSQL not found at ${PG_BIN}; running against PGlite only`);
  return [pgliteBackend()];
}

/** Every stored event, as the engine would reload it. */
export async function storedEvents(db: Database): Promise<StoredEvent[]> {
  const { rows } = await db.query<{ projectId: number; event: StoredEvent['event']; request: StoredEvent['request'] }>(
    `SELECT "projectId", "event", "request" FROM atomic.events`,
  );
  return rows.map(({ projectId, event, request }) => ({ projectId, event, request, time: request.receivedAt - (request.sentAt - event.ts) }));
}

/** Every session row, as /sessions shapes them, in primary-key order. */
export async function sessionRows(db: Database): Promise<SessionRow[]> {
  const { rows } = await db.query<Record<string, unknown>>(`SELECT ${SESSION_SELECT} FROM atomic.session`);
  return byKey(rows.map(sessionRow));
}

/** The batch sessionizer over the stored events: what atomic.session must hold. */
export function expectedRows(events: StoredEvent[]): SessionRow[] {
  const devices = new Map<string, StoredEvent[]>();
  for (const e of events) {
    const k = `${e.projectId}\u0000${e.event.deviceId}`;
    devices.get(k)?.push(e) ?? devices.set(k, [e]);
  }
  return byKey([...devices.values()].flatMap((list) => sessionizeDevice(list, { fullIp: true }).rows));
}

// Code-unit order, not localeCompare: that one ignores control and format characters, so rows
// whose keys differ only in those could come out in either order.
const keyOf = (r: SessionRow) => `${r.projectId}\u0000${r.sessionStart}\u0000${r.sessionId}\u0000${r.deviceId}`;
const byKey = (rows: SessionRow[]) => [...rows].sort((a, b) => (keyOf(a) < keyOf(b) ? -1 : keyOf(a) > keyOf(b) ? 1 : 0));
