import { EVENT_TYPES, PASSIVE_EVENT_TYPES } from '../../protocol';
import { byEventOrder, type StoredEvent } from './request';
import { cut } from './columns';
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
export function sessionizeDevice(
  events: StoredEvent[],
  options: SessionizeOptions = {},
  /** Rows of earlier runs (the engine's): sessions whose events are the same objects are not rebuilt. */
  cache?: RowCache,
): Sessionized {
  return sessionizeSorted([...events].sort(byEventOrder), options, cache);
}

/** The rows of a device, the events each row was built from (same index), and the disagreements. */
export interface Sessionized {
  rows: SessionRow[];
  /** The events of each row, in rule-4 order: the grouping the rows were built by (GET /visits reads its pages from it). */
  sessions: StoredEvent[][];
  disagreements: Disagreements;
}

/** sessionizeDevice over events already in rule-4 order (the engine keeps them so: no sort per request). */
export function sessionizeSorted(
  sorted: readonly StoredEvent[],
  options: SessionizeOptions = {},
  cache?: RowCache,
): Sessionized {
  const inactivity = options.inactivity ?? DEFAULT_INACTIVITY;
  const n = sorted.length;
  const active = new Uint8Array(n);
  let anyActivity = false;
  for (let i = 0; i < n; i++)
    if (ACTIVE.has(sorted[i].event.type)) {
      active[i] = 1;
      anyActivity = true;
    }

  // Rule 5, on activity: a gap of `inactivity` or more starts a new visit.
  const visitOf = new Int32Array(n).fill(-1);
  const visitOfPage = new Map<string, number>();
  let visit = -1;
  let lastActivity = -Infinity;
  for (let i = 0; i < n; i++) {
    if (anyActivity && !active[i]) continue;
    const s = sorted[i];
    if (s.time - lastActivity >= inactivity) visit++;
    lastActivity = s.time;
    visitOf[i] = visit;
    if (!visitOfPage.has(s.event.pageId)) visitOfPage.set(s.event.pageId, visit);
  }
  // Reports join their page's visit; else (their page view never came) the visit of
  // their tab's activity just before them, else just after; else the device's.
  const lastOfTab = new Map<string, number>();
  const firstOfTab = new Map<string, number>();
  for (let i = 0; i < n; i++) if (visitOf[i] >= 0 && !firstOfTab.has(sorted[i].event.tabId)) firstOfTab.set(sorted[i].event.tabId, visitOf[i]);
  let current = 0;
  for (let i = 0; i < n; i++) {
    const { tabId, pageId } = sorted[i].event;
    if (visitOf[i] >= 0) {
      current = visitOf[i];
      lastOfTab.set(tabId, current);
    } else visitOf[i] = visitOfPage.get(pageId) ?? lastOfTab.get(tabId) ?? firstOfTab.get(tabId) ?? current;
  }

  // Rule 6: a session is a visit's events of one tab (visit -> tab -> events, in first-event order).
  const visitFirst: StoredEvent[] = [];
  const sessionsOf: Map<string, StoredEvent[]>[] = [];
  const order: [number, StoredEvent[]][] = [];
  for (let i = 0; i < n; i++) {
    const s = sorted[i];
    const v = visitOf[i];
    visitFirst[v] ??= s;
    const tabs = (sessionsOf[v] ??= new Map());
    const list = tabs.get(s.event.tabId);
    if (list) list.push(s);
    else {
      const created = [s];
      tabs.set(s.event.tabId, created);
      order.push([v, created]);
    }
  }

  // Rule 8: the identityId an anonymousId was last identified as stitches all its sessions.
  const stitched = new Map<string, string>();
  for (const s of sorted) if (s.event.identityId) stitched.set(s.event.anonymousId, s.event.identityId);

  const disagreements: Disagreements = { visitsMerged: 0, visitsSplit: 0 };
  const clientVisitsOf: Set<string>[] = [];
  const serverVisitsOfClientVisit = new Map<string, Set<number>>();
  let previous = '';
  let previousVisit = -1;
  for (let i = 0; i < n; i++) {
    // A cookieless event's visitId is its own (./cookieless.ts): the client kept no visit to disagree with.
    if ((!active[i] && anyActivity) || sorted[i].request.cookieless) continue;
    const clientVisit = sorted[i].event.visitId;
    // Runs of one client visitId within one server visit are the common case: count them once.
    if (clientVisit === previous && visitOf[i] === previousVisit) continue;
    previous = clientVisit;
    previousVisit = visitOf[i];
    (clientVisitsOf[visitOf[i]] ??= new Set()).add(clientVisit);
    (serverVisitsOfClientVisit.get(clientVisit) ?? serverVisitsOfClientVisit.set(clientVisit, new Set()).get(clientVisit)!).add(visitOf[i]);
  }
  for (const set of clientVisitsOf) if (set && set.size > 1) disagreements.visitsMerged++;
  for (const set of serverVisitsOfClientVisit.values()) if (set.size > 1) disagreements.visitsSplit++;

  const rows: SessionRow[] = [];
  const sessions: StoredEvent[][] = [];
  const keys = new Set<string>();
  const kept: RowCache = new Map();
  for (const [v, list] of order) {
    const visitId = visitFirst[v].event.visitId;
    const first = list[0].event;
    const identityId = stitched.get(first.anonymousId) ?? lastIdentity(list);
    const cached = cache?.get(list[0]);
    let row =
      cached && cached.visitId === visitId && cached.identityId === identityId && sameEvents(cached.events, list)
        ? cached.row
        : buildRow(list, visitId, identityId, options);
    if (cache) kept.set(list[0], { events: list, visitId, identityId, row });
    // The primary key (projectId, sessionStart, sessionId) must be unique. Two server
    // sessions starting in the same ms with one client sessionId (the client kept a
    // session the server split) would collide: the later gets a deterministic suffix.
    let sessionId = row.sessionId;
    for (let k = 2; keys.has(`${row.sessionStart}\u0000${sessionId}`); k++) sessionId = `${cut(first.sessionId, 33)}~${k}`;
    if (sessionId !== row.sessionId) row = { ...row, sessionId };
    keys.add(`${row.sessionStart}\u0000${row.sessionId}`);
    rows.push(row);
    sessions.push(list);
  }
  if (cache) {
    cache.clear();
    for (const [first, entry] of kept) cache.set(first, entry);
  }
  return { rows, sessions, disagreements };
}

/** The identityId of a session's last identify, when its anonymousId was never stitched. */
function lastIdentity(list: StoredEvent[]): string | undefined {
  for (let i = list.length - 1; i >= 0; i--) if (list[i].event.identityId) return list[i].event.identityId;
  return undefined;
}

/** Whether a session holds the very same stored copies as when its row was built (copies are immutable). */
function sameEvents(a: StoredEvent[], b: StoredEvent[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * What the engine keeps between runs of one device: each session's row, by its
 * first stored event, with what it was built from.
 */
export type RowCache = Map<StoredEvent, { events: StoredEvent[]; visitId: string; identityId: string | undefined; row: SessionRow }>;

/**
 * Activity (model.md): page views, tracks, identifies. Reports are not, and
 * neither is a type this version does not know (a newer SDK's): stored, it joins
 * its page's visit like a report and never starts or extends one.
 */
const ACTIVE = new Set<string>(EVENT_TYPES.filter((t) => !PASSIVE_EVENT_TYPES.includes(t)));
