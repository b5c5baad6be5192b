import type { Visit, VisitPage, SessionSummary } from './api';

/** One bar on the timeline, placed in percent of the visit's span. */
export interface Bar {
  left: number;
  width: number;
}

export interface Lane {
  tabId: string;
  /** The tab's session rows in this visit (one, unless the tab was idle long enough to start another visit's worth). */
  sessions: (SessionSummary & Bar)[];
  pages: (VisitPage & Bar)[];
  activeTime: number;
  pageViews: number;
}

export interface Timeline {
  start: number;
  end: number;
  lanes: Lane[];
}

/** Bars narrower than this (percent) are widened so they can be seen and clicked. */
const MIN_WIDTH = 0.8;

/**
 * Lays a visit out: one lane per tab, in the order the tabs started, each with
 * its sessions and pages placed on one time axis from the visit's first event
 * to its last.
 */
export function layout(visit: Visit): Timeline {
  const times = [
    ...visit.sessions.flatMap((s) => [Date.parse(s.sessionStart), Date.parse(s.sessionEnd)]),
    ...visit.pages.flatMap((p) => [Date.parse(p.start), Date.parse(p.end)]),
  ].filter(Number.isFinite);
  const start = times.length ? Math.min(...times) : 0;
  const end = Math.max(times.length ? Math.max(...times) : 0, start + 1000);
  const place = (from: number, to: number): Bar => {
    const left = ((from - start) / (end - start)) * 100;
    const width = Math.max(((to - from) / (end - start)) * 100, MIN_WIDTH);
    return { left: Math.min(left, 100 - MIN_WIDTH), width: Math.min(width, 100 - Math.min(left, 100 - MIN_WIDTH)) };
  };
  const lanes = new Map<string, Lane>();
  const lane = (tabId: string) => {
    let l = lanes.get(tabId);
    if (!l) lanes.set(tabId, (l = { tabId, sessions: [], pages: [], activeTime: 0, pageViews: 0 }));
    return l;
  };
  const byStart = [...visit.sessions].sort((a, b) => Date.parse(a.sessionStart) - Date.parse(b.sessionStart));
  for (const s of byStart) {
    const l = lane(s.tabId ?? s.sessionId);
    l.sessions.push({ ...s, ...place(Date.parse(s.sessionStart), Date.parse(s.sessionEnd)) });
    l.activeTime += s.activeTime ?? 0;
    l.pageViews += s.pageViewsCount ?? 0;
  }
  for (const p of visit.pages) lane(p.tabId).pages.push({ ...p, ...place(Date.parse(p.start), Date.parse(p.end)) });
  return { start, end, lanes: [...lanes.values()] };
}
