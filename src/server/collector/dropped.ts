import { INT_MAX } from '../sessionizer/columns';
import type { Queryable } from './database';
import { readAs } from './store';

/**
 * The SDK's `dropped` report (docs/protocol.md): events a client had to drop
 * (queue limits, age, refusals), kept as a counter per project and UTC day in
 * atomic.dropped (migration 4). One owner: this file is the only writer.
 */

/** One batch counts at most this many (the column is bigint; a counter saturates instead of overflowing). */
const PER_BATCH = INT_MAX;

/** What one batch's `dropped` adds: whole events, none for a negative or absurd value, at most PER_BATCH. */
export const droppedCount = (reported: number): number => (Number.isFinite(reported) && reported >= 1 ? Math.min(PER_BATCH, Math.floor(reported)) : 0);

/** Adds a batch's report to its project's count for the UTC day of `receivedAt`. */
export async function addDropped(db: Queryable, projectId: number, receivedAt: number, reported: number): Promise<void> {
  const n = droppedCount(reported);
  if (!n) return;
  await db.query(
    `INSERT INTO atomic.dropped ("projectId", "day", "dropped") VALUES ($1, $2::date, $3::bigint)
     ON CONFLICT ("projectId", "day") DO UPDATE SET "dropped" =
       CASE WHEN atomic.dropped."dropped" > 9223372036854775807 - EXCLUDED."dropped" THEN 9223372036854775807 ELSE atomic.dropped."dropped" + EXCLUDED."dropped" END`,
    [projectId, new Date(receivedAt).toISOString().slice(0, 10), String(n)],
  );
}

export interface DroppedDay {
  /** The UTC day, YYYY-MM-DD. */
  day: string;
  dropped: number;
}

/** A project's counts from one UTC day to another (both included), oldest first, read as the reader role. */
export async function readDropped(tx: Queryable, projectId: number, from: string, to: string): Promise<DroppedDay[]> {
  await readAs(tx, projectId);
  const { rows } = await tx.query<{ day: string; dropped: string }>(
    `SELECT to_char("day", 'YYYY-MM-DD') AS "day", "dropped"::text AS "dropped" FROM atomic.dropped
     WHERE "projectId" = $1 AND "day" >= $2::date AND "day" <= $3::date ORDER BY "day"`,
    [projectId, from, to],
  );
  return rows.map((r) => ({ day: r.day, dropped: Number(r.dropped) }));
}
