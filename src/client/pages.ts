import type { NavigationType } from '../protocol';
import { activeTime, type ActiveTime } from './activity';
import { pageContext } from './context';
import type { EventFields } from './events';
import type { Pipeline } from './pipeline';
import { navigationEntry, navigationTiming } from './timing';

/** The page being viewed: its pageId, its activeTime, and the activeTime last reported. */
export interface Page {
  id: string;
  activity: ActiveTime;
  reported: number;
}

export interface Pages {
  /** The current page view; undefined before the first. */
  readonly current: Page | undefined;
  /** A page view at `ts`: the page being left reports its activeTime first. */
  view(ts: number, url: string, title: string, navigationType: NavigationType, referrer?: string): void;
  /** A route change, if the URL really changed: the same URL twice is one page view. */
  routeTo(ts: number, url: string, title: string): void;
  /** A manual page view (page()), with the previous page's URL as its referrer. */
  manual(ts: number, url: string, title: string): void;
  /** Queues a page_leave or page_ping: the page's cumulative activeTime (and the load timing once known). */
  report(type: 'page_leave' | 'page_ping', ts: number): void;
  /** Visibility or focus changed at `ts`; `focused` is the window's focus now. */
  engage(ts: number, focused?: boolean): void;
  /** A real interaction at `ts`: counts for activeTime and keeps the visit alive (an active op). */
  interact(ts: number, discrete: boolean): void;
  /** The document load's timing is wanted (true) on the next report, or not (a bfcache restore has none). */
  wantTiming(wanted: boolean): void;
  /** The load completed: report its timing now, if the browser has it. */
  loaded(ts: number): void;
  /** Every `interval` ms, a page_ping while the page is visible and its activeTime grew. Returns the stopper. */
  heartbeat(interval: number, now: () => number): () => void;
  /** A new pageId for the current page view (an opt-out: see tab.renew). */
  renew(): void;
}

/**
 * Page views and what each page reports: activeTime (activity.ts), user actions,
 * the load's navigation timing, heartbeats. Every event goes through the
 * pipeline as an op; `emit` stamps and sends what the op builds.
 */
export function createPages(win: Window, pipeline: Pipeline, emit: (fields: EventFields) => void, newId: () => string, idleTimeout: number): Pages {
  const doc = win.document;
  const perf = win.performance;
  let page: Page | undefined;
  let lastUrl = '';
  let timingPending = false;
  let focused = true;
  let engaged = false;
  /** Navigation timing of the document load, once complete and sane. */
  const loadTiming = () => navigationTiming(navigationEntry(perf), perf?.now() ?? 0);

  const send = (type: 'page_leave' | 'page_ping', ts: number) => {
    const p = page!;
    const fields: EventFields = { type, ts, activeTime: (p.reported = p.activity.value(ts)), userActions: p.activity.userActions };
    const timing = timingPending && loadTiming();
    if (timing) {
      Object.assign(fields, timing);
      timingPending = false;
    }
    emit(fields);
  };

  const pages: Pages = {
    get current() {
      return page;
    },
    view(ts, url, title, navigationType, referrer) {
      lastUrl = url;
      pipeline.op(ts, true, () => {
        if (page) send('page_leave', ts);
        page = { id: newId(), activity: activeTime(idleTimeout, ts, engaged), reported: 0 };
        emit({ type: 'page_view', ts, ...pageContext(win, { url, title, referrer, navigationType }, ts) });
      });
    },
    routeTo: (ts, url, title) => url !== lastUrl && pages.view(ts, url, title, 'route', lastUrl),
    manual: (ts, url, title) => pages.view(ts, url, title, 'route', lastUrl),
    report: (type, ts) => pipeline.op(ts, false, () => page && send(type, ts)),
    engage(ts, focus = focused) {
      focused = focus;
      engaged = doc.visibilityState !== 'hidden' && focused;
      page?.activity.setEngaged(engaged, ts);
    },
    interact(ts, discrete) {
      page?.activity.interaction(ts, discrete);
      pipeline.op(ts, true);
    },
    wantTiming: (wanted) => void (timingPending = wanted),
    renew: () => void (page &&= { ...page, id: newId() }),
    loaded: (ts) => void (timingPending && loadTiming() && pages.report('page_ping', ts)),
    heartbeat(interval, now) {
      const timer = setInterval(() => {
        const t = now();
        if (page && doc.visibilityState === 'visible' && page.activity.value(t) > page.reported) pages.report('page_ping', t);
      }, interval);
      return () => clearInterval(timer);
    },
  };
  return pages;
}
