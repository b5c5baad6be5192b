// The two databases the collector's tests run against: an embedded PGlite in a
// temporary folder, and a real PostgreSQL server (a throwaway cluster on
// loopback, from Debian's packages; or SESSIONBEACON_PG_URL). In CI both must run:
// a missing PostgreSQL fails there instead of skipping.
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { migrate, openPGlite, openPostgres, type Database } from '../../src/server';
import type { StoredEvent } from '../../src/server/sessionizer/request';
import { sessionizeDevice } from '../../src/server/sessionizer/device';
import type { SessionRow } from '../../src/server/sessionizer/row';
import { SESSION_SELECT, sessionRow } from '../../src/server/collector/store';

/** Debian's PostgreSQL binaries, the newest version installed (or PG_BIN). */
const PG_BIN =
  process.env.PG_BIN ??
  `/usr/lib/postgresql/${(existsSync('/usr/lib/postgresql') ? readdirSync('/usr/lib/postgresql') : ['15']).sort((a, b) => Number(b) - Number(a))[0]}/bin`;

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

/** Whether this machine can start a PostgreSQL server for the tests. */
export const postgresAvailable = (): boolean => !!process.env.SESSIONBEACON_PG_URL || existsSync(join(PG_BIN, 'pg_ctl'));

export function postgresBackend(): Backend & { createDatabase(): Promise<string> } {
  let dir: string | undefined;
  let port = 0;
  let databases = 0;
  // initdb refuses to run as root: as root, run the binaries as the postgres user.
  // stdio ignored: a server started with our pipes would keep execFileSync waiting forever.
  const asPostgres = (cmd: string, args: string[]) =>
    process.getuid?.() === 0
      ? execFileSync('runuser', ['-u', 'postgres', '--', join(PG_BIN, cmd), ...args], { stdio: 'ignore' })
      : execFileSync(join(PG_BIN, cmd), args, { stdio: 'ignore' });
  const start = () => {
    dir = mkdtempSync(join(tmpdir(), 'sb-pg-'));
    chmodSync(dir, 0o777);
    port = 56000 + (process.pid % 4000);
    asPostgres('initdb', ['-D', join(dir, 'data'), '--auth=trust', '-U', 'postgres', '--no-sync']);
    asPostgres('pg_ctl', ['-D', join(dir, 'data'), '-l', join(dir, 'log'), '-o', `-c listen_addresses=127.0.0.1 -p ${port} -k ${dir} -c fsync=off`, '-w', 'start']);
  };
  const url = (database: string) => process.env.SESSIONBEACON_PG_URL?.replace(/\/[^/]*$/, `/${database}`) ?? `postgres://postgres@127.0.0.1:${port}/${database}`;
  return {
    name: 'postgres',
    /** A new empty database (the server is started on first use); its URL. */
    async createDatabase() {
      if (!dir && !process.env.SESSIONBEACON_PG_URL) start();
      // A database per test file or case: tests never see each other's rows.
      const name = `sb_test_${process.pid}_${++databases}`;
      const admin = await openPostgres(url('postgres'));
      await admin.exec(`CREATE DATABASE ${name}`);
      await admin.close();
      return url(name);
    },
    async open() {
      const db = await openPostgres(await this.createDatabase());
      await migrate(db);
      return db;
    },
    async stop() {
      if (!dir) return;
      try {
        asPostgres('pg_ctl', ['-D', join(dir, 'data'), '-m', 'immediate', 'stop']);
      } finally {
        rmSync(dir, { recursive: true, force: true });
        dir = undefined;
      }
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
