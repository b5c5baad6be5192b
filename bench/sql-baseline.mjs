// The baseline the sessionizer's speed is judged against (issue 4): an SQL
// window-function sessionizer in PostgreSQL over the same seeded workload as
// bench/sessionizer.mjs. It computes only the core (dedupe, visits cut at 30
// minutes of activity, sessions per tab, start/end, page views): less than the
// TypeScript sessionizer does, which favours SQL. Loading is not timed.
//   node bench/sql-baseline.mjs      (needs Debian's postgresql; starts a throwaway cluster)
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { workload } from './sessionizer.mjs';

const BIN = process.env.PG_BIN ?? '/usr/lib/postgresql/15/bin';
const PORT = Number(process.env.PG_PORT ?? 55432);
// Generous memory by default (the fastest this machine runs it); PG_SETTINGS='' for PostgreSQL's defaults.
const SETTINGS = process.env.PG_SETTINGS ?? '-c shared_buffers=1GB -c work_mem=256MB';
// No pipes of ours for the server to hold open (execFileSync would wait on them forever).
const asPostgres = (cmd, args) => execFileSync('runuser', ['-u', 'postgres', '--', join(BIN, cmd), ...args], { stdio: 'ignore' });

const dir = mkdtempSync(join(tmpdir(), 'sb-pg-'));
chmodSync(dir, 0o777);
asPostgres('initdb', ['-D', join(dir, 'data'), '--auth=trust', '-U', 'postgres']);
asPostgres('pg_ctl', ['-D', join(dir, 'data'), '-l', join(dir, 'server.log'), '-o', `-c listen_addresses=127.0.0.1 -p ${PORT} -k ${dir} -c fsync=off ${SETTINGS}`, '-w', 'start']);
const client = new pg.Client({ host: '127.0.0.1', port: PORT, user: 'postgres', database: 'postgres' });
try {
  await client.connect();
  const version = (await client.query('SHOW server_version')).rows[0].server_version;
  const results = [];
  for (const size of (process.env.SIZES ?? '100000,1000000').split(',').map(Number)) {
    const { requests, events } = workload(size);
    await client.query(`DROP TABLE IF EXISTS events; CREATE UNLOGGED TABLE events (
      project_id int, device_id text, event_id text, type text, tab_id text, seq int, ts bigint, received_at bigint, sent_at bigint)`);
    let rows = [];
    const flush = async () => {
      if (!rows.length) return;
      const values = rows.map((_, i) => `($${i * 9 + 1},$${i * 9 + 2},$${i * 9 + 3},$${i * 9 + 4},$${i * 9 + 5},$${i * 9 + 6},$${i * 9 + 7},$${i * 9 + 8},$${i * 9 + 9})`).join(',');
      await client.query(`INSERT INTO events VALUES ${values}`, rows.flat());
      rows = [];
    };
    for (const r of requests)
      for (const e of r.body.events) {
        rows.push([r.body.projectId, e.deviceId, e.id, e.type, e.tabId, e.seq, e.ts, r.receivedAt, r.body.sentAt]);
        if (rows.length >= 5000) await flush();
      }
    await flush();
    await client.query('ANALYZE events');
    console.error(`loaded ${events} events`);
    const start = performance.now();
    const out = await client.query(`CREATE TEMP TABLE sessions AS
      WITH dedup AS (
        SELECT DISTINCT ON (project_id, device_id, event_id) *, received_at - (sent_at - ts) AS t
        FROM events ORDER BY project_id, device_id, event_id, received_at, sent_at
      ), flagged AS (
        SELECT *, CASE WHEN lag(t) OVER w IS NULL OR t - lag(t) OVER w >= 1800000 THEN 1 ELSE 0 END AS new_visit
        FROM dedup WHERE type NOT IN ('page_leave', 'page_ping')
        WINDOW w AS (PARTITION BY project_id, device_id ORDER BY t, seq, event_id)
      ), visits AS (
        SELECT *, sum(new_visit) OVER (PARTITION BY project_id, device_id ORDER BY t, seq, event_id) AS visit FROM flagged
      )
      SELECT project_id, device_id, visit, tab_id, min(t) AS session_start, max(t) AS session_end,
             count(*) FILTER (WHERE type = 'page_view') AS page_views
      FROM visits GROUP BY project_id, device_id, visit, tab_id`);
    const seconds = (performance.now() - start) / 1000;
    const count = (await client.query('SELECT count(*)::int AS n FROM sessions')).rows[0].n;
    await client.query('DROP TABLE sessions');
    results.push({ events, 'session rows': count, seconds: +seconds.toFixed(2), 'events/s': Math.round(events / seconds) });
  }
  console.log(`SQL window-function baseline, PostgreSQL ${version} on loopback (fsync off, unlogged table), query time only`);
  console.table(results);
} finally {
  await client.end().catch(() => {});
  asPostgres('pg_ctl', ['-D', join(dir, 'data'), '-m', 'fast', 'stop']);
  rmSync(dir, { recursive: true, force: true });
}
