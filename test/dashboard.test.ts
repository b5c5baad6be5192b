// The sessions page's pure parts: how it writes durations and lays out a visit.
// The page itself runs in Chromium against the real collector (e2e/collector.spec.ts).
import { describe, expect, it } from 'vitest';
import type { SessionSummary, Visit, VisitPage } from '../src/dashboard/api';
import { duration, hue, pathOf, short } from '../src/dashboard/format';
import { layout } from '../src/dashboard/timeline';

const T0 = Date.parse('2026-11-22T10:00:00.000Z');
const iso = (ms: number) => new Date(T0 + ms).toISOString();

const session = (tabId: string, from: number, to: number, over: Partial<SessionSummary> = {}) =>
  ({ sessionId: `s-${tabId}-${from}`, tabId, visitId: 'v', sessionStart: iso(from), sessionEnd: iso(to), duration: to - from, activeTime: 1000, pageViewsCount: 1, ...over }) as SessionSummary;
const page = (pageId: string, tabId: string, from: number, to: number): VisitPage => ({
  pageId,
  tabId,
  sessionId: `s-${tabId}`,
  url: `https://shop.example/${pageId}?q=1#top`,
  title: pageId,
  navigationType: 'navigate',
  start: iso(from),
  end: iso(to),
  activeTime: 500,
});

describe('format', () => {
  it('writes durations for people, and a dash when there is none', () => {
    expect([0, 950, 9_999, 10_000, 59_999, 60_000, 65_000, 3_600_000, 3_720_000].map(duration)).toEqual([
      '0.0 s',
      '0.9 s',
      '9.9 s',
      '10 s',
      '59 s',
      '1 min',
      '1 min 5 s',
      '1 h',
      '1 h 2 min',
    ]);
    expect([null, undefined, NaN].map(duration)).toEqual(['–', '–', '–']);
  });

  it('shortens IDs, keeps a stable hue per ID, and shows a URL by its path', () => {
    expect(short('abcdefghij')).toBe('abcdef');
    expect(short(null)).toBe('–');
    expect(hue('visit-1')).toBe(hue('visit-1'));
    expect(hue('visit-1')).toBeGreaterThanOrEqual(0);
    expect(hue('visit-1')).toBeLessThan(360);
    expect(pathOf('https://shop.example/cart?x=1#pay')).toBe('/cart?x=1#pay');
    expect(pathOf('not a url')).toBe('not a url');
  });
});

describe('timeline layout', () => {
  const visit: Visit = {
    visitId: 'v',
    sessions: [session('tab2', 40_000, 100_000, { pageViewsCount: 1, activeTime: 7000 }), session('tab1', 0, 60_000, { pageViewsCount: 2, activeTime: 3000 })],
    pages: [page('a', 'tab1', 0, 30_000), page('b', 'tab1', 30_000, 60_000), page('c', 'tab2', 40_000, 100_000)],
  };

  it('gives each tab a lane, in the order the tabs started, with its sessions, pages and totals', () => {
    const t = layout(visit);
    expect([t.start, t.end]).toEqual([T0, T0 + 100_000]);
    expect(t.lanes.map((l) => [l.tabId, l.pages.map((p) => p.pageId), l.pageViews, l.activeTime])).toEqual([
      ['tab1', ['a', 'b'], 2, 3000],
      ['tab2', ['c'], 1, 7000],
    ]);
  });

  it('places bars in percent of the visit, widening a bar too narrow to see, never past the end', () => {
    const t = layout({ ...visit, pages: [...visit.pages, page('d', 'tab2', 100_000, 100_000)] });
    const [a, b] = t.lanes[0].pages;
    expect([a.left, a.width, b.left, b.width]).toEqual([0, 30, 30, 30]);
    const [c, d] = t.lanes[1].pages;
    expect([c.left, c.width]).toEqual([40, 60]);
    expect(d.width).toBeGreaterThan(0);
    expect(d.left + d.width).toBeLessThanOrEqual(100);
    expect(t.lanes[1].sessions[0]).toMatchObject({ left: 40, width: 60 });
  });

  it('a visit of one instant still has a span (no division by zero)', () => {
    const t = layout({ visitId: 'v', sessions: [session('tab1', 0, 0)], pages: [page('a', 'tab1', 0, 0)] });
    expect(t.end - t.start).toBe(1000);
    expect(Number.isFinite(t.lanes[0].pages[0].width)).toBe(true);
  });
});
