import { PASSIVE_EVENT_TYPES } from '../../protocol';
import { byEventOrder, type StoredEvent } from './request';
import { buildRow, type RowOptions, type SessionRow } from './row';

export interface SessionizeOptions extends RowOptions {
  /** Inactivity that starts a new visit, ms: 30 minutes or more (model.md rule 5). Default 30 minutes. */
  inactivity?: number;
}

export const DEFAULT_INACTIVITY = 30 * 60 * 1000;

/** Where the client split differently from the server (rule 6): counted, the server's grouping wins. */
export interface Disagreements {
  /** Server visits holding events of more than one client visitId. */
  visitsMerged: number;
  /** Client visitIds whose events fall in more than one server visit. */
  visitsSplit: number;
}

/**
 * The session rows of one device (all events of one (projectId, deviceId)),
 * following model.md rules 4 to 8. Pure and deterministic: the result depends
 * only on the set of events.
 *
 * Visits are cut by activity only: page_leave and page_ping are reports, not
 * activity, so they never start or extend a visit; each goes to the visit of
 * its page (the visit holding its pageId's activity), else of its tab's activity
 * just before it, else just after it, else of the device's activity before it. A device with nothing but reports still gets
 * its rows (its reports count as activity then).
 */
export function sessionizeDevice(events: StoredEvent[], options: SessionizeOptions = {}): { rows: SessionRow[]; disagreements: Disagreements } {
  const inactivity = options.inactivity ?? DEFAULT_INACTIVITY;
  const sorted = [...events].sort(byEventOrder);
  const isActivity = (s: StoredEvent) => !PASSIVE_EVENT_TYPES.includes(s.event.type);
  const anyActivity = sorted.some(isActivity);

  // Rule 5, on activity: a gap of `inactivity` or more starts a new visit.
  const visitOf = new Map<StoredEvent, number>();
  const visitOfPage = new Map<string, number>();
  let visit = -1;
  let lastActivity = -Infinity;
  for (const s of sorted) {
    if (anyActivity && !isActivity(s)) continue;
    if (s.time - lastActivity >= inactivity) visit++;
    lastActivity = s.time;
    visitOf.set(s, visit);
    if (!visitOfPage.has(s.event.pageId)) visitOfPage.set(s.event.pageId, visit);
  }
  // Reports join their page's visit; else (their page view never came) the visit of
  // their tab's activity just before them, else just after; else the device's.
  const lastOfTab = new Map<string, number>();
  const firstOfTab = new Map<string, number>();
  for (const s of sorted) {
    const v = visitOf.get(s);
    if (v !== undefined && !firstOfTab.has(s.event.tabId)) firstOfTab.set(s.event.tabId, v);
  }
  let current = 0;
  for (const s of sorted) {
    const v = visitOf.get(s);
    if (v !== undefined) {
      current = v;
      lastOfTab.set(s.event.tabId, v);
    } else visitOf.set(s, visitOfPage.get(s.event.pageId) ?? lastOfTab.get(s.event.tabId) ?? firstOfTab.get(s.event.tabId) ?? current);
  }

  // Rule 6: a session is a visit's events of one tab.
  const visits: StoredEvent[][] = [];
  const sessions = new Map<string, StoredEvent[]>();
  for (const s of sorted) {
    const v = visitOf.get(s)!;
    (visits[v] ||= []).push(s);
    const key = `${v}\u0000${s.event.tabId}`;
    const list = sessions.get(key);
    if (list) list.push(s);
    else sessions.set(key, [s]);
  }

  // Rule 8: the identityId an anonymousId was last identified as stitches all its sessions.
  const stitched = new Map<string, string>();
  for (const s of sorted) if (s.event.identityId) stitched.set(s.event.anonymousId, s.event.identityId);

  const disagreements: Disagreements = { visitsMerged: 0, visitsSplit: 0 };
  const serverVisitsOfClientVisit = new Map<string, Set<number>>();
  visits.forEach((list, v) => {
    const clientVisits = new Set(list.filter(isActivity).map((s) => s.event.visitId));
    if (clientVisits.size > 1) disagreements.visitsMerged++;
    for (const id of clientVisits) (serverVisitsOfClientVisit.get(id) ?? serverVisitsOfClientVisit.set(id, new Set()).get(id)!).add(v);
  });
  for (const set of serverVisitsOfClientVisit.values()) if (set.size > 1) disagreements.visitsSplit++;

  const rows: SessionRow[] = [];
  const keys = new Set<string>();
  for (const [key, list] of sessions) {
    const v = Number(key.slice(0, key.indexOf('\u0000')));
    const visitId = visits[v][0].event.visitId;
    const first = list[0].event;
    const identityId = stitched.get(first.anonymousId) ?? [...list].reverse().find((s) => s.event.identityId)?.event.identityId;
    const row = buildRow(list, visitId, identityId, options);
    // The primary key (projectId, sessionStart, sessionId) must be unique. Two server
    // sessions starting in the same ms with one client sessionId (the client kept a
    // session the server split) would collide: the later gets a deterministic suffix.
    for (let n = 2; keys.has(`${row.sessionStart}\u0000${row.sessionId}`); n++) row.sessionId = `${first.sessionId.slice(0, 33)}~${n}`;
    keys.add(`${row.sessionStart}\u0000${row.sessionId}`);
    rows.push(row);
  }
  return { rows, disagreements };
}
