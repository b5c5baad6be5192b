import type { Database } from './database';

/**
 * The collector's schema, in versions: each migration runs once, in its own
 * transaction, recorded in atomic.migrations. Never edit a released migration;
 * add the next one. The same SQL runs on PGlite and on PostgreSQL 15+.
 */

/** atomic.session's columns (../../../../shared/design/atomic-session.md) with their types, in order; then this project's extras. */
export const SESSION_COLUMNS: readonly (readonly [name: string, type: string])[] = [
  ['projectId', 'integer NOT NULL'],
  ['sessionId', 'varchar(37) NOT NULL'],
  ['identityId', 'varchar(80)'],
  ['anonymousId', 'varchar(37)'],
  ['tags', 'text[]'],
  ['deviceId', 'varchar(37)'],
  ['visitId', 'varchar(37)'],
  ['tabId', 'varchar(37)'],
  ['pageId', 'varchar(37)'],
  ['sessionStart', 'timestamptz NOT NULL'],
  ['sessionEnd', 'timestamptz NOT NULL'],
  ['duration', 'integer NOT NULL'],
  ['activeTime', 'integer'],
  ['localStartTime', 'time without time zone'],
  ['timezoneOffset', 'integer'],
  ['timezoneIANA', 'varchar(255)'],
  ['clockSkew', 'integer'],
  ['browserFingerprint', 'varchar(80)'],
  ['deviceFingerprint', 'varchar(80)'],
  ['ipAddress', 'inet'],
  ['countryCode', 'varchar(4)'],
  ['region', 'varchar(32)'],
  ['city', 'varchar(32)'],
  ['isBot', 'boolean'],
  ['userAgent', 'varchar(160)'],
  ['browserVersion', 'integer'],
  ['browserName', 'varchar(32)'],
  ['engineName', 'varchar(24)'],
  ['deviceCategory', 'varchar(24)'],
  ['deviceVendor', 'varchar(24)'],
  ['deviceType', 'varchar(24)'],
  ['deviceModel', 'varchar(32)'],
  ['osName', 'varchar(24)'],
  ['maxTouchPoints', 'smallint'],
  ['screenWidth', 'smallint'],
  ['screenHeight', 'smallint'],
  ['requestedLanguage', 'varchar(2)'],
  ['requestedRegion', 'varchar(2)'],
  ['translatedLanguage', 'varchar(12)'],
  ['utmCampaign', 'text[]'],
  ['utmMedium', 'text[]'],
  ['utmSource', 'text[]'],
  ['utmTerm', 'text[]'],
  ['utmContent', 'text[]'],
  ['referrerURLOrigin', 'varchar(255)'],
  ['referrerURLPath', 'varchar(255)'],
  ['referrerURLSearchParams', 'jsonb'],
  ['initTitle', 'varchar(128)'],
  ['initURLOrigin', 'varchar(255)'],
  ['initURLPath', 'varchar(255)'],
  ['initURLSearchParams', 'jsonb'],
  ['exitTitle', 'varchar(128)'],
  // The reference spells it "exitURLOrgin"; model.md asks for the correct spelling.
  ['exitURLOrigin', 'varchar(255)'],
  ['exitURLPath', 'varchar(255)'],
  ['exitURLSearchParams', 'jsonb'],
  ['pageReloaded', 'boolean'],
  ['domInteractive', 'integer'],
  ['domContentLoaded', 'integer'],
  ['load', 'integer'],
  ['notes', 'varchar(255)'],
  ['companyId', 'text'],
  ['userActionsCount', 'integer'],
  ['userType', 'integer'],
  ['public', 'boolean DEFAULT false'],
  ['softDeleted', 'timestamptz'],
  ['pageViewsCount', 'integer'],
  ['buildHash', 'varchar(32)'],
  ['verified', 'boolean'],
  ['hasHtml', 'boolean'],
  ['wisdomVersion', 'varchar(20)'],
  ['pageCreatedAt', 'timestamptz'],
  ['softDeletedAt', 'timestamptz'],
  ['s3Bytes', 'integer'],
  // Extras (docs/sessionizer.md): what other session objects carry too.
  ['osVersion', 'varchar(24)'],
  ['touch', 'boolean'],
  ['weekday', 'smallint'],
  ['clickIds', 'jsonb'],
  ['traits', 'jsonb'],
  ['sdkVersion', 'varchar(32)'],
];

const q = (name: string) => `"${name}"`;

/** The reference table's columns of the session-replay product (model.md): kept in the table, never written. */
const NOT_WRITTEN = new Set(['notes', 'companyId', 'userType', 'public', 'softDeleted', 'buildHash', 'verified', 'hasHtml', 'wisdomVersion', 'pageCreatedAt', 'softDeletedAt', 's3Bytes']);
/** The columns the sessionizer fills: every key of a SessionRow. */
export const WRITTEN = SESSION_COLUMNS.map(([name]) => name).filter((name) => !NOT_WRITTEN.has(name));

/**
 * Upserts session rows given as a JSON array, by primary key. A row of another
 * device with the same key is left alone (store.ts, applyChanges, says why).
 * It is the body of atomic.upsert_sessions (migration 2): PL/pgSQL plans it once
 * per connection, where a statement sent each time is planned each time (on
 * PGlite, most of its cost). A migration that adds a written column must
 * CREATE OR REPLACE that function.
 */
const sessionUpsert = (rows: string) => {
  const list = WRITTEN.map(q).join(', ');
  return `INSERT INTO atomic.session (${list})
    SELECT ${list} FROM jsonb_populate_recordset(NULL::atomic.session, ${rows})
    ON CONFLICT ("projectId", "sessionStart", "sessionId") DO UPDATE SET (${list}) = ROW(${WRITTEN.map((n) => `EXCLUDED.${q(n)}`).join(', ')})
    WHERE atomic.session."deviceId" IS NOT DISTINCT FROM EXCLUDED."deviceId"`;
};

const MIGRATIONS: readonly { version: number; name: string; sql: string }[] = [
  {
    version: 1,
    name: 'raw events, atomic.session, row-level security',
    sql: `
      CREATE TABLE atomic.events (
        "projectId" integer NOT NULL,
        "eventId" varchar(64) NOT NULL,
        "deviceId" varchar(64) NOT NULL,
        "type" varchar(16) NOT NULL,
        "eventTime" timestamptz NOT NULL,
        "receivedAt" timestamptz NOT NULL,
        "event" jsonb NOT NULL,
        "request" jsonb NOT NULL,
        PRIMARY KEY ("projectId", "eventId")
      );
      CREATE INDEX events_projectid_deviceid_index ON atomic.events ("projectId", "deviceId");

      CREATE TABLE atomic.session (
        ${SESSION_COLUMNS.map(([name, type]) => `${q(name)} ${type}`).join(',\n        ')},
        CONSTRAINT "Session_pkey" PRIMARY KEY ("projectId", "sessionStart", "sessionId")
      );
      CREATE INDEX "Session_companyId" ON atomic.session ("companyId");
      CREATE INDEX "Session_tags" ON atomic.session USING gin (tags);
      CREATE INDEX "Session_utmCampaign" ON atomic.session USING gin ("utmCampaign");
      CREATE INDEX "Session_utmContent" ON atomic.session USING gin ("utmContent");
      CREATE INDEX "Session_utmMedium" ON atomic.session USING gin ("utmMedium");
      CREATE INDEX "Session_utmSource" ON atomic.session USING gin ("utmSource");
      CREATE INDEX "Session_utmTerm" ON atomic.session USING gin ("utmTerm");
      CREATE INDEX session__idx__proj_start_session_duration ON atomic.session ("projectId", "sessionStart", "sessionId", "activeTime", duration, "identityId", "pageViewsCount");
      CREATE INDEX session_projectid_anonymousid_sessionstart_index ON atomic.session ("projectId", "anonymousId", "sessionStart");
      CREATE INDEX session_projectid_deviceid_index ON atomic.session ("projectId", "deviceId");
      CREATE INDEX session_projectid_identityid_sessionstart_index ON atomic.session ("projectId", "identityId", "sessionStart");
      CREATE INDEX session_projectid_ipaddress_sessionstart_sessionid_index ON atomic.session ("projectId", "ipAddress", "sessionStart", "sessionId");
      CREATE INDEX session_projectid_screenwidth_index ON atomic.session ("projectId", "screenWidth");
      CREATE INDEX session_projectid_sessionid_index ON atomic.session ("projectId", "sessionId");

      -- Row-level security: a reader sees the rows of the project it was given
      -- (SET app.project_id), none when it was given none. The table's owner (the
      -- collector's writer) is not subject to it; reads go through the role below.
      CREATE FUNCTION atomic.get_user_accessible_project_id() RETURNS integer
        LANGUAGE sql STABLE AS $$ SELECT NULLIF(current_setting('app.project_id', true), '')::integer $$;
      ALTER TABLE atomic.session ENABLE ROW LEVEL SECURITY;
      CREATE POLICY "Session__rls_1_policy" ON atomic.session USING ("projectId" = atomic.get_user_accessible_project_id());
      ALTER TABLE atomic.events ENABLE ROW LEVEL SECURITY;
      CREATE POLICY "Events__rls_1_policy" ON atomic.events USING ("projectId" = atomic.get_user_accessible_project_id());
      DO $$ BEGIN CREATE ROLE sessionbeacon_reader NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
      GRANT sessionbeacon_reader TO CURRENT_USER;
      GRANT USAGE ON SCHEMA atomic TO sessionbeacon_reader;
      GRANT SELECT ON atomic.session, atomic.events TO sessionbeacon_reader;
      GRANT EXECUTE ON FUNCTION atomic.get_user_accessible_project_id() TO sessionbeacon_reader;
    `,
  },
  {
    version: 2,
    name: 'atomic.insert_events and atomic.upsert_sessions: the writes planned once per connection',
    // A body's statement ends on the line of its END: migrations are split at a semicolon that ends a line.
    sql: `
      CREATE FUNCTION atomic.insert_events(event_rows jsonb) RETURNS TABLE (project_id integer, event_id varchar) LANGUAGE plpgsql AS $$ BEGIN
        RETURN QUERY INSERT INTO atomic.events ("projectId", "eventId", "deviceId", "type", "eventTime", "receivedAt", "event", "request")
          SELECT r."projectId", r."eventId", r."deviceId", r."type", r."eventTime", r."receivedAt", r."event", r."request"
          FROM jsonb_to_recordset(event_rows) AS r("projectId" integer, "eventId" varchar(64), "deviceId" varchar(64), "type" varchar(16),
            "eventTime" timestamptz, "receivedAt" timestamptz, "event" jsonb, "request" jsonb)
          ON CONFLICT ("projectId", "eventId") DO NOTHING
          RETURNING atomic.events."projectId", atomic.events."eventId"; END $$;
      CREATE FUNCTION atomic.upsert_sessions(session_rows jsonb) RETURNS void LANGUAGE plpgsql AS $$ BEGIN ${sessionUpsert('session_rows')}; END $$;
      REVOKE ALL ON FUNCTION atomic.insert_events(jsonb), atomic.upsert_sessions(jsonb) FROM PUBLIC;
    `,
  },
  {
    version: 3,
    name: 'atomic.devices: a version per device, locked by each write; events stamped with it (a fleet of collectors)',
    // docs/scaling.md: every write transaction takes its devices' rows here (in one
    // order), so writers of one device take turns, and each event carries the
    // version that stored it, so a writer whose memory holds version v reads only
    // what came after. The new index serves the old one's lookups (its prefix) too.
    // Events stored before this migration get version 0; their devices have no row
    // yet, so no writer holds them in memory: the first write reads them all.
    sql: `
      CREATE TABLE atomic.devices (
        "projectId" integer NOT NULL,
        "deviceId" varchar(64) NOT NULL,
        "version" bigint NOT NULL,
        PRIMARY KEY ("projectId", "deviceId")
      );
      ALTER TABLE atomic.events ADD COLUMN "deviceVersion" bigint NOT NULL DEFAULT 0;
      CREATE INDEX events_projectid_deviceid_version_index ON atomic.events ("projectId", "deviceId", "deviceVersion");
      DROP INDEX atomic.events_projectid_deviceid_index;

      CREATE OR REPLACE FUNCTION atomic.insert_events(event_rows jsonb) RETURNS TABLE (project_id integer, event_id varchar) LANGUAGE plpgsql AS $$ BEGIN
        RETURN QUERY INSERT INTO atomic.events ("projectId", "eventId", "deviceId", "type", "eventTime", "receivedAt", "event", "request", "deviceVersion")
          SELECT r."projectId", r."eventId", r."deviceId", r."type", r."eventTime", r."receivedAt", r."event", r."request", r."deviceVersion"
          FROM jsonb_to_recordset(event_rows) AS r("projectId" integer, "eventId" varchar(64), "deviceId" varchar(64), "type" varchar(16),
            "eventTime" timestamptz, "receivedAt" timestamptz, "event" jsonb, "request" jsonb, "deviceVersion" bigint)
          ON CONFLICT ("projectId", "eventId") DO NOTHING
          RETURNING atomic.events."projectId", atomic.events."eventId";
      END $$;

      -- Claims devices for this transaction: locks their rows (held to commit), bumps
      -- their versions, and returns, per device, the version before (0 for a new one)
      -- and the stored events its caller lacks. "held" is the version the caller holds
      -- in memory (-1 for none): equal to the stored one, nothing is read; lower, the
      -- events stored after it; else (none, or a database restored under it) all.
      CREATE FUNCTION atomic.claim_devices(wanted jsonb)
        RETURNS TABLE (claimed_project integer, claimed_device varchar, stored_version bigint, missing_event jsonb, missing_request jsonb)
        LANGUAGE plpgsql AS $$
      DECLARE claimed jsonb;
      BEGIN
        -- Every writer locks in the same order, so two of them never wait for each other in a circle.
        WITH c AS (
          INSERT INTO atomic.devices AS d ("projectId", "deviceId", "version")
          SELECT w."projectId", w."deviceId", 1 FROM jsonb_to_recordset(wanted) AS w("projectId" integer, "deviceId" varchar(64))
          ORDER BY w."projectId", w."deviceId"
          ON CONFLICT ("projectId", "deviceId") DO UPDATE SET "version" = d."version" + 1
          RETURNING d."projectId", d."deviceId", d."version" - 1 AS "stored"
        ) SELECT jsonb_agg(c) INTO claimed FROM c;
        -- A new statement of a VOLATILE function takes a new snapshot: taken after the locks,
        -- it sees every event that the previous holders of these rows committed.
        RETURN QUERY SELECT c."projectId", c."deviceId", c."stored", e."event", e."request"
          FROM jsonb_to_recordset(claimed) AS c("projectId" integer, "deviceId" varchar(64), "stored" bigint)
          JOIN jsonb_to_recordset(wanted) AS w("projectId" integer, "deviceId" varchar(64), "held" bigint)
            ON w."projectId" = c."projectId" AND w."deviceId" = c."deviceId"
          LEFT JOIN atomic.events e ON w."held" <> c."stored" AND e."projectId" = c."projectId" AND e."deviceId" = c."deviceId"
            AND e."deviceVersion" > CASE WHEN w."held" BETWEEN 0 AND c."stored" THEN w."held" ELSE -1 END;
      END $$;
      REVOKE ALL ON FUNCTION atomic.claim_devices(jsonb) FROM PUBLIC;
    `,
  },
  {
    version: 4,
    name: 'atomic.dropped: the events the SDK reports it dropped, per project and day',
    sql: `
      CREATE TABLE atomic.dropped (
        "projectId" integer NOT NULL,
        "day" date NOT NULL,
        "dropped" bigint NOT NULL,
        PRIMARY KEY ("projectId", "day")
      );
      ALTER TABLE atomic.dropped ENABLE ROW LEVEL SECURITY;
      CREATE POLICY "Dropped__rls_1_policy" ON atomic.dropped USING ("projectId" = atomic.get_user_accessible_project_id());
      GRANT SELECT ON atomic.dropped TO sessionbeacon_reader;
    `,
  },
  {
    version: 5,
    name: 'atomic.salts: the daily salts of cookieless devices, shared by every collector process',
    // docs/privacy.md: one random salt per UTC day (salts.ts), deleted once no request
    // may use it. UNLOGGED: never written to the write-ahead log, so never in a WAL
    // archive, a replica or a base backup, from which a deleted salt could come back.
    // A crash of the database server empties it (the day's devices then start anew).
    // The reader role gets nothing: the salts are the collector's alone.
    sql: `
      CREATE UNLOGGED TABLE atomic.salts (
        "day" date PRIMARY KEY,
        "salt" bytea NOT NULL CHECK (octet_length("salt") = 32),
        "createdAt" timestamptz NOT NULL DEFAULT now()
      );
      REVOKE ALL ON atomic.salts FROM PUBLIC;
    `,
  },
];

/** The role reads run as: subject to the row-level security policies. */
export const READER_ROLE = 'sessionbeacon_reader';

/** Brings the schema up to the newest version; safe to run from several processes at once. */
export async function migrate(db: Database): Promise<number[]> {
  // IF NOT EXISTS is not safe against a concurrent CREATE (two processes starting at once both
  // try, one fails on pg_namespace's unique index): the migrators' lock comes first.
  await db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock(7253001)');
    await tx.query('CREATE SCHEMA IF NOT EXISTS atomic');
    await tx.query('CREATE TABLE IF NOT EXISTS atomic.migrations (version integer PRIMARY KEY, name text NOT NULL, "appliedAt" timestamptz NOT NULL DEFAULT now())');
  });
  const applied: number[] = [];
  for (const migration of MIGRATIONS) {
    const done = await db.transaction(async (tx) => {
      // One migrator at a time: the others wait here, then see the version applied.
      await tx.query('SELECT pg_advisory_xact_lock(7253001)');
      const { rows } = await tx.query('SELECT 1 FROM atomic.migrations WHERE version = $1', [migration.version]);
      if (rows.length) return false;
      for (const statement of splitStatements(migration.sql)) await tx.query(statement);
      await tx.query('INSERT INTO atomic.migrations (version, name) VALUES ($1, $2)', [migration.version, migration.name]);
      return true;
    });
    if (done) applied.push(migration.version);
  }
  return applied;
}

/**
 * Statements of a migration, split at semicolons that end a line outside a
 * dollar-quoted body (a function's or a DO block's statements stay in it).
 * Comment lines are dropped outside bodies only.
 */
export function splitStatements(sql: string): string[] {
  const statements: string[] = [];
  let current = '';
  let quoted = false;
  for (const line of sql.split('\n')) {
    if (!quoted && /^\s*--/.test(line)) continue;
    current += `${line}\n`;
    if ((line.match(/\$\$/g)?.length ?? 0) % 2) quoted = !quoted;
    if (!quoted && /;\s*$/.test(line)) {
      statements.push(current.trim().replace(/;$/, ''));
      current = '';
    }
  }
  if (current.trim()) statements.push(current.trim());
  return statements.filter(Boolean);
}

export const LATEST_VERSION = MIGRATIONS[MIGRATIONS.length - 1].version;
