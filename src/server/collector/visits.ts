import type { PageViewEvent, VisitPage, WireEvent } from '../../protocol';
import { nonNegative } from '../sessionizer/columns';
import { sessionizeDevice } from '../sessionizer/device';
import type { RequestMeta, StoredEvent } from '../sessionizer/request';
import type { SessionRow } from '../sessionizer/row';
import type { Queryable } from './database';
import { readAs, SESSION_SELECT, sessionRow } from './store';

export interface Visit {
  /** The visit's session rows (one per tab and inactivity period), oldest first. */
  sessions: SessionRow[];
  /** Its page views, oldest first (at most 1 000). */
  pages: VisitPage[];
}

/** At most this many rows and pages in one answer. */
const MAX = 1000;
/** atomic.session."deviceId" is varchar(37). */
const DEVICE_COLUMN = 37;

const keyOf = (r: Pick<SessionRow, 'sessionStart' | 'sessionId' | 'deviceId'>) => `${r.sessionStart}\u0000${r.sessionId}\u0000${r.deviceId}`;

/**
 * A visit of one project: its session rows, and the page views of exactly those
 * rows, read as the reader role (row-level security, as for GET /sessions).
 *
 * The pages are found the way the rows were built: the rows' devices' events
 * are sessionized again (docs/sessionizer.md), and the page views of the
 * sessions that are the visit's rows are its pages. Picking them by the
 * client's visitId instead would lose pages wherever the server's grouping
 * differs from the client's (two client visits merged into one server visit:
 * rule 6, the server's grouping wins).
 */
export async function readVisit(tx: Queryable, projectId: number, visitId: string, options: { inactivity?: number } = {}): Promise<Visit> {
  await readAs(tx, projectId);
  const sessions = (
    await tx.query<Record<string, unknown>>(
      `SELECT ${SESSION_SELECT} FROM atomic.session WHERE "projectId" = $1 AND "visitId" = $2 ORDER BY "sessionStart", "sessionId" LIMIT ${MAX}`,
      [projectId, visitId],
    )
  ).rows.map(sessionRow);
  const devices = [...new Set(sessions.map((s) => s.deviceId).filter((d): d is string => !!d))];
  if (!devices.length) return { sessions, pages: [] };

  const select = `SELECT "event", "request" FROM atomic.events WHERE "projectId" = $1`;
  const { rows } = await tx.query<{ event: WireEvent; request: RequestMeta }>(`${select} AND "deviceId" = ANY($2::text[])`, [projectId, devices]);
  // A row's deviceId is cut to its varchar(37); the event keeps up to 64 characters. Such devices (never the SDK's
  // 21-character IDs) are found by their first 37, without the index.
  const cut = devices.filter((d) => d.length === DEVICE_COLUMN);
  if (cut.length)
    rows.push(...(await tx.query<{ event: WireEvent; request: RequestMeta }>(`${select} AND length("deviceId") > ${DEVICE_COLUMN} AND left("deviceId", ${DEVICE_COLUMN}) = ANY($2::text[])`, [projectId, cut])).rows);
  const byDevice = new Map<string, StoredEvent[]>();
  for (const { event, request } of rows) {
    const e: StoredEvent = { projectId, event, request, time: request.receivedAt - (request.sentAt - event.ts) };
    byDevice.get(event.deviceId)?.push(e) ?? byDevice.set(event.deviceId, [e]);
  }

  const wanted = new Set(sessions.map(keyOf));
  const pages: (VisitPage & { seq: number })[] = [];
  for (const events of byDevice.values()) {
    const built = sessionizeDevice(events, { inactivity: options.inactivity });
    built.rows.forEach((row, i) => {
      if (wanted.has(keyOf(row))) pages.push(...pagesOf(row, built.sessions[i]));
    });
  }
  pages.sort((a, b) => a.start.localeCompare(b.start) || a.seq - b.seq);
  return { sessions, pages: pages.slice(0, MAX).map(({ seq: _seq, ...page }) => page) };
}

/** The page views of one session, each with its last event time and its largest reported activeTime within the session. */
function pagesOf(row: SessionRow, events: StoredEvent[]): (VisitPage & { seq: number })[] {
  const end = new Map<string, number>();
  const active = new Map<string, number>();
  for (const { event, time } of events) {
    end.set(event.pageId, Math.max(end.get(event.pageId) ?? -Infinity, time));
    if (event.type === 'page_ping' || event.type === 'page_leave') {
      const t = nonNegative(event.activeTime);
      if (t !== null) active.set(event.pageId, Math.max(active.get(event.pageId) ?? 0, t));
    }
  }
  return events
    .filter((e): e is StoredEvent & { event: PageViewEvent } => e.event.type === 'page_view')
    .map(({ event, time }) => ({
      pageId: event.pageId,
      tabId: event.tabId,
      sessionId: row.sessionId,
      url: typeof event.url === 'string' ? event.url : '',
      title: typeof event.title === 'string' ? event.title : null,
      navigationType: typeof event.navigationType === 'string' ? event.navigationType : null,
      start: new Date(time).toISOString(),
      end: new Date(end.get(event.pageId)!).toISOString(),
      activeTime: active.get(event.pageId) ?? null,
      seq: event.seq,
    }));
}
