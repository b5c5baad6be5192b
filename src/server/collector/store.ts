import type { WireEvent } from '../../protocol';
import { rowKey, type Change } from '../sessionizer/engine';
import { partitionKey, type RequestMeta, type StoredEvent } from '../sessionizer/request';
import type { SessionRow } from '../sessionizer/row';
import type { Queryable } from './database';
import { READER_ROLE, WRITTEN } from './migrations';

/**
 * Reads and writes of the two tables. Many rows go in one statement as one JSON
 * parameter, expanded by jsonb_to_recordset / jsonb_populate_recordset: one round
 * trip, the same on PGlite and node-postgres, and PostgreSQL does the typing
 * (text[] from JSON arrays, inet, time, timestamptz from ISO strings).
 */

/** An event as stored in atomic.events: `event` the wire event, `request` what the server knew of its request. */
interface EventRecord {
  projectId: number;
  eventId: string;
  deviceId: string;
  type: string;
  eventTime: string;
  receivedAt: string;
  event: WireEvent;
  request: RequestMeta;
  /** The version of its device that stored it (migration 3). */
  deviceVersion: number;
}

const record = (e: StoredEvent, deviceVersion: number): EventRecord => ({
  projectId: e.projectId as number,
  eventId: e.event.id,
  deviceId: e.event.deviceId,
  type: e.event.type,
  eventTime: new Date(e.time).toISOString(),
  receivedAt: new Date(e.request.receivedAt).toISOString(),
  event: e.event,
  request: e.request,
  deviceVersion,
});

/**
 * Inserts events, each stamped with the version its device gets in this
 * transaction (`versionOf`); returns those that were new (a retried beacon's
 * copies are not).
 */
export async function insertEvents(tx: Queryable, events: StoredEvent[], versionOf: (e: StoredEvent) => number): Promise<StoredEvent[]> {
  if (!events.length) return [];
  // atomic.insert_events (migrations.ts): ON CONFLICT DO NOTHING, returning the keys that were new.
  const { rows } = await tx.query<{ projectId: number; eventId: string }>(
    `SELECT project_id AS "projectId", event_id AS "eventId" FROM atomic.insert_events($1::jsonb)`,
    [JSON.stringify(events.map((e) => record(e, versionOf(e))))],
  );
  const inserted = new Set(rows.map((r) => `${r.projectId}\u0000${r.eventId}`));
  return events.filter((e) => inserted.has(`${e.projectId}\u0000${e.event.id}`));
}

/** A device a write transaction needs, with the version its writer holds in memory (-1: none). */
export interface DeviceClaim {
  projectId: number;
  deviceId: string;
  held: number;
}

/** A claimed device: its stored version before this transaction, and the stored events its writer lacks. */
export interface ClaimedDevice {
  stored: number;
  missing: StoredEvent[];
}

/**
 * Claims devices for the rest of the transaction (atomic.claim_devices,
 * migration 3): their atomic.devices rows are locked until commit, so no other
 * writer changes these devices meanwhile, and their versions are bumped. Returns,
 * by partition key, each device's stored version before this transaction and the
 * stored events the caller lacks for it (none when it holds that version; those
 * stored after its version when it holds an older one; else all).
 */
export async function claimDevices(tx: Queryable, claims: DeviceClaim[]): Promise<Map<string, ClaimedDevice>> {
  const claimed = new Map<string, ClaimedDevice>();
  if (!claims.length) return claimed;
  const { rows } = await tx.query<{ projectId: number; deviceId: string; stored: string | number; event: WireEvent | null; request: RequestMeta | null }>(
    `SELECT claimed_project AS "projectId", claimed_device AS "deviceId", stored_version AS "stored", missing_event AS "event", missing_request AS "request"
     FROM atomic.claim_devices($1::jsonb)`,
    [JSON.stringify(claims)],
  );
  for (const { projectId, deviceId, stored, event, request } of rows) {
    const key = partitionKey(projectId, deviceId);
    let device = claimed.get(key);
    // bigint comes back as a string from node-postgres; versions stay far below 2^53.
    if (!device) claimed.set(key, (device = { stored: Number(stored), missing: [] }));
    if (event && request) device.missing.push({ projectId, event, request, time: request.receivedAt - (request.sentAt - event.ts) });
  }
  return claimed;
}

/**
 * Applies the engine's changes: deletes, then upserts by primary key. Changes to
 * one key are reduced to the last one first, so the order of the rest does not matter.
 *
 * The primary key (projectId, sessionStart, sessionId) does not hold the device:
 * a client that reuses another device's sessionId with the same start ms would
 * collide with that device's row. Writes and deletes only touch a row of their
 * own device, so such a client can neither overwrite nor delete another's row
 * (the first row stored keeps the key; the other session is not stored).
 */
export async function applyChanges(tx: Queryable, changes: Change[]): Promise<void> {
  const last = new Map<string, Change>();
  for (const c of changes) last.set(rowKey(c.op === 'upsert' ? c.row : c.key), c);
  const deletes = [...last.values()].flatMap((c) => (c.op === 'delete' ? [c.key] : []));
  const upserts = [...last.values()].flatMap((c) => (c.op === 'upsert' ? [c.row] : []));
  if (deletes.length)
    await tx.query(
      `DELETE FROM atomic.session s USING jsonb_to_recordset($1::jsonb) AS k("projectId" integer, "sessionStart" timestamptz, "sessionId" text, "deviceId" text)
       WHERE s."projectId" = k."projectId" AND s."sessionStart" = k."sessionStart" AND s."sessionId" = k."sessionId"
         AND s."deviceId" IS NOT DISTINCT FROM k."deviceId"`,
      [JSON.stringify(deletes)],
    );
  // atomic.upsert_sessions (migrations.ts): the upsert by primary key, a row of another device left alone.
  if (upserts.length) await tx.query(`SELECT atomic.upsert_sessions($1::jsonb)`, [JSON.stringify(upserts)]);
}

export interface SessionQuery {
  projectId: number;
  /** sessionStart range, epoch ms, from inclusive, to exclusive. */
  from: number;
  to: number;
  limit: number;
}

/**
 * A project's session rows, newest first, read as the reader role inside a
 * transaction that sets app.project_id: the row-level security policy scopes
 * the read, and the WHERE clause says the same thing again.
 */
export async function readSessions(tx: Queryable, query: SessionQuery): Promise<SessionRow[]> {
  await readAs(tx, query.projectId);
  const { rows } = await tx.query<Record<string, unknown>>(
    `SELECT ${SESSION_SELECT} FROM atomic.session
     WHERE "projectId" = $1 AND "sessionStart" >= $2::timestamptz AND "sessionStart" < $3::timestamptz
     ORDER BY "sessionStart" DESC, "sessionId" LIMIT $4`,
    [query.projectId, new Date(query.from).toISOString(), new Date(query.to).toISOString(), query.limit],
  );
  return rows.map(sessionRow);
}

/** The written columns as a select list, the time of day as the sessionizer writes it ("HH:MM:SS.mmm", never without ms). */
export const SESSION_SELECT = WRITTEN.map((n) => (n === 'localStartTime' ? `to_char("localStartTime", 'HH24:MI:SS.MS') AS "localStartTime"` : `"${n}"`)).join(', ');

/** A row as read back, shaped as the sessionizer made it: timestamps as ISO strings (both drivers give Dates). */
export function sessionRow(row: Record<string, unknown>): SessionRow {
  for (const name of ['sessionStart', 'sessionEnd'] as const) if (row[name] instanceof Date) row[name] = (row[name] as Date).toISOString();
  return row as unknown as SessionRow;
}

/** Makes the rest of the transaction read as the reader role, scoped to one project by the row-level security policies. */
export async function readAs(tx: Queryable, projectId: number): Promise<void> {
  await tx.query(`SET LOCAL ROLE ${READER_ROLE}`);
  await tx.query(`SELECT set_config('app.project_id', $1, true)`, [String(projectId)]);
}
