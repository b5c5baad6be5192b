// DuckDB's whole job over an NDJSON log of received requests, the anchor of
// bench/sessionizer.mjs: read the file, sessionize, write the rows as NDJSON.
//   node bench/duckdb-job.mjs requests.ndjson sessions.ndjson [inactivity ms]
// Prints one JSON line of figures. @duckdb/node-api (MIT) is a devDependency used
// by the benches only.
//
// The SQL follows docs/sessionizer.md's rules for what this workload holds: dedupe
// by (project, device, event id) keeping the first received copy, derived time,
// visits cut at 30 minutes or more between activities (page_leave and page_ping are
// reports), reports joined to their page's visit, sessions per (visit, tab), the
// session's IDs from its first event. It builds 21 of the ~70 columns (IDs,
// times, duration, activeTime and actions as the sum of each page's largest
// report, page views, first and last URL and title, IP, User-Agent, clock skew):
// less than `sessionbeacon sessionize` does (UA parsing, URL splitting, UTM,
// referrer, geo, language, timing, truncation, stitching), which favours DuckDB.
import { DuckDBInstance } from '@duckdb/node-api';

const [input, output, inactivityText] = process.argv.slice(2);
const inactivity = Number(inactivityText ?? 1_800_000);
const EVENT = `STRUCT(id VARCHAR, "type" VARCHAR, ts BIGINT, seq BIGINT, deviceId VARCHAR, anonymousId VARCHAR, visitId VARCHAR,
  sessionId VARCHAR, tabId VARCHAR, pageId VARCHAR, url VARCHAR, title VARCHAR, activeTime BIGINT, userActions BIGINT)`;
const COLUMNS = `{receivedAt: 'BIGINT', ip: 'VARCHAR', userAgent: 'VARCHAR',
  body: 'STRUCT(projectId BIGINT, sentAt BIGINT, sdk VARCHAR, events ${EVENT.replace(/\n/g, ' ')}[])'}`;
const quote = (s) => `'${s.replace(/'/g, "''")}'`;

const start = performance.now();
const instance = await DuckDBInstance.create(':memory:');
const db = await instance.connect();
// COPY need not keep the input's order: DuckDB's advice for large exports (less memory, more parallel).
await db.run(`SET preserve_insertion_order = false`);
await db.run(`COPY (
  WITH req AS (
    SELECT receivedAt, ip, userAgent, body.projectId AS projectId, body.sentAt AS sentAt, unnest(body.events) AS e
    FROM read_json(${quote(input)}, format = 'newline_delimited', columns = ${COLUMNS}, maximum_object_size = 1048576)
  ), dedup AS (
    -- Rule 1: one copy per (project, device, event id), the first received; rule 2: the derived time.
    SELECT projectId, e.deviceId AS deviceId, e.id AS id, e."type" AS "type", e.seq AS seq, e.anonymousId AS anonymousId,
      e.visitId AS visitId, e.sessionId AS sessionId, e.tabId AS tabId, e.pageId AS pageId, e.url AS url, e.title AS title,
      e.activeTime AS activeTime, e.userActions AS userActions, receivedAt - sentAt AS skew, ip, userAgent, receivedAt - (sentAt - e.ts) AS t,
      e."type" NOT IN ('page_leave', 'page_ping') AS active
    FROM req QUALIFY row_number() OVER (PARTITION BY projectId, e.deviceId, e.id ORDER BY receivedAt, sentAt) = 1
  ), ordered AS (
    -- Rule 4 once, as an integer: the order of every later step.
    SELECT *, row_number() OVER (PARTITION BY projectId, deviceId ORDER BY t, seq, id) AS k FROM dedup
  ), flagged AS (
    SELECT *, CASE WHEN t - lag(t) OVER w >= ${inactivity} OR lag(t) OVER w IS NULL THEN 1 ELSE 0 END AS newVisit
    FROM ordered WHERE active WINDOW w AS (PARTITION BY projectId, deviceId ORDER BY k)
  ), visited AS (
    -- Rule 5 on activity; reports join their page's visit.
    SELECT *, sum(newVisit) OVER (PARTITION BY projectId, deviceId ORDER BY k) AS visit FROM flagged
  ), pages AS (
    SELECT projectId, deviceId, pageId, min(visit) AS visit FROM visited GROUP BY ALL
  ), everything AS (
    SELECT projectId, deviceId, visit, tabId, pageId, k, "type", sessionId, anonymousId, visitId, url, title, ip, userAgent, skew, t, NULL::BIGINT AS activeTime, NULL::BIGINT AS userActions FROM visited
    UNION ALL
    SELECT o.projectId, o.deviceId, p.visit, o.tabId, o.pageId, o.k, o."type", o.sessionId, o.anonymousId, o.visitId, o.url, o.title, o.ip, o.userAgent, o.skew, o.t, o.activeTime, o.userActions
    FROM ordered o JOIN pages p USING (projectId, deviceId, pageId) WHERE NOT o.active
  ), visits AS (
    SELECT projectId, deviceId, visit, arg_min(visitId, k) AS serverVisitId FROM visited GROUP BY ALL
  ), reported AS (
    -- activeTime and actions: each page's largest report, summed per session.
    SELECT projectId, deviceId, visit, tabId, sum(activeTime) AS activeTime, sum(userActions) AS userActions
    FROM (SELECT projectId, deviceId, visit, tabId, pageId, max(activeTime) AS activeTime, max(userActions) AS userActions FROM everything WHERE activeTime IS NOT NULL GROUP BY ALL)
    GROUP BY ALL
  ), sessions AS (
    -- Rule 6: a session per (visit, tab), its IDs from its first event.
    SELECT projectId, deviceId, visit, tabId,
      arg_min(sessionId, k) AS sessionId, arg_min(anonymousId, k) AS anonymousId, arg_min(pageId, k) AS pageId,
      min(t) AS startMs, max(t) AS endMs, count(*) FILTER (WHERE "type" = 'page_view') AS pageViewsCount,
      arg_min(url, k) FILTER (WHERE "type" = 'page_view') AS initURL, arg_max(url, k) FILTER (WHERE "type" = 'page_view') AS exitURL,
      arg_min(title, k) FILTER (WHERE "type" = 'page_view') AS initTitle, arg_max(title, k) FILTER (WHERE "type" = 'page_view') AS exitTitle,
      arg_min(ip, k) AS ipAddress, arg_min(userAgent, k) AS userAgent, arg_min(skew, k) AS clockSkew
    FROM everything GROUP BY ALL
  )
  SELECT s.projectId, s.sessionId, s.anonymousId, s.deviceId, v.serverVisitId AS visitId, s.tabId, s.pageId,
    make_timestamp(s.startMs * 1000) AS sessionStart, make_timestamp(s.endMs * 1000) AS sessionEnd, s.endMs - s.startMs AS duration,
    r.activeTime, coalesce(r.userActions, 0) AS userActionsCount, s.pageViewsCount, s.initURL, s.initTitle, s.exitURL, s.exitTitle,
    s.ipAddress, s.userAgent, s.clockSkew
  FROM sessions s JOIN visits v USING (projectId, deviceId, visit) LEFT JOIN reported r USING (projectId, deviceId, visit, tabId)
) TO ${quote(output)} (FORMAT JSON)`);
const rows = Number((await db.runAndReadAll(`SELECT count(*) AS n FROM read_json(${quote(output)}, format = 'newline_delimited', columns = {sessionId: 'VARCHAR'})`)).getRows()[0][0]);
const seconds = (performance.now() - start) / 1000;
const threads = (await db.runAndReadAll(`SELECT current_setting('threads')`)).getRows()[0][0];
const version = (await db.runAndReadAll(`SELECT version()`)).getRows()[0][0];
console.log(JSON.stringify({ rows, seconds, threads: Number(threads), version }));
