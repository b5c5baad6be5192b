import { nanoid } from 'nanoid';
import { TRACKERS, type TrackerHandle } from './registry';
import { cut, LIMITS, type EventIds, type NavigationType, type WireEvent } from '../protocol';
import { activeTime, type ActiveTime } from './activity';
import { pageContext } from './context';
import { DEVICE_COOKIE_MAX_AGE, identityStore, normalizeIdentityId } from './ids';
import { listen, type Off } from './lib/listen';
import { onFocusChange } from './lib/onFocusChange';
import { onHidden } from './lib/onHidden';
import { onInteraction } from './lib/onInteraction';
import { onRestore } from './lib/onRestore';
import { onRouteChange } from './lib/onRouteChange';
import { onVisible } from './lib/onVisible';
import { whenActivated } from './lib/whenActivated';
import { resolveOptions, type TrackerOptions } from './options';
import { createOutbox } from './outbox';
import { createQueue } from './queue';
import { checkCookieDomain, cookieArea, idbArea, webStorageArea, type StorageAreas } from './storage';
import { createTab, type Channel } from './tab';
import { navigationEntry, navigationTiming, loadNavigationType } from './timing';
import { beaconTransport, type Transport } from './transport';
import type { Locks } from './locks';
import { createVisit } from './visit';

export const SDK_VERSION = '0.1.0';
const CONSENT_KEY = 'sb_consent';
/** When to look for orphaned queues a second time, ms after the IDs are known. */
const ADOPT_AGAIN = 3000;

/** The IDs as the tracker knows them now; an ID not known yet (the page is still prerendering) is undefined. */
export type Ids = { [K in keyof EventIds]?: string };

/** What `createTracker` returns. No method ever throws into the page. */
export interface Tracker {
  /** Tracks a named event with optional JSON-serializable properties. Counts as activity. */
  track(name: string, properties?: Record<string, unknown>): void;
  /** Counts a page view now (automatic for document loads and history/hash routing). */
  page(): void;
  /** Sets the identityId (log-in): sent on every later event, stitched to earlier sessions by the server. */
  identify(identityId: string | number, traits?: Record<string, unknown>): void;
  /** Log-out: a new anonymousId, no identityId. The deviceId stays. */
  reset(): void;
  /** Stops all tracking, deletes the stored IDs; remembered across pages. */
  optOut(): void;
  /** Consent given: stores the IDs, sends what waited and everything after; remembered across pages. */
  optIn(): void;
  /** Sends what is queued; resolves when it was answered or failed. Never rejects. */
  flush(): Promise<void>;
  /** The current IDs. */
  readonly ids: Ids;
  /** Sends what is queued, then removes every listener and timer of the tracker and lets go of its Web Locks. */
  destroy(): Promise<void>;
}

/** Seams for tests and unusual hosts; every member has a browser default. */
export interface TrackerEnv {
  window: Window;
  now: () => number;
  newId: () => string;
  transport: Transport;
  /** The storage areas, each asking `canStore()` before it writes. */
  storage: (canStore: () => boolean) => StorageAreas;
  /** Web Locks; undefined uses the re-read-before-write fallback. */
  locks: Locks | undefined;
  channel: () => Channel | undefined;
}

/** A call made before the tracker could run it (the script tag's stub, or a prerendered page), with the page of that moment. */
export interface QueuedCall {
  method: string;
  args: unknown[];
  ts: number;
  url: string;
  title: string;
}

interface Page {
  id: string;
  activity: ActiveTime;
  reported: number;
}

interface Op {
  ts: number;
  /** Activity (model.md) starts or extends the visit; page_leave and page_ping do not. */
  active: boolean;
  run?: () => void;
}

/** Consent as the tracker holds it: granted; pending (hold everything in memory); denied (drop everything). */
const GRANTED = 0;
const PENDING = 1;
const DENIED = 2;
/** An event before the tracker adds its id, seq and IDs. */
type EventFields = Omit<WireEvent, keyof EventIds | 'id' | 'seq'> & Record<string, unknown>;

const PROPERTIES_MAX = 16384;

/** Properties are kept only if they serialize to JSON within a size that fits a beacon. */
function jsonProperties(value: unknown): Record<string, unknown> | undefined {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return undefined;
  try {
    const json = JSON.stringify(value);
    return json.length <= PROPERTIES_MAX ? (JSON.parse(json) as Record<string, unknown>) : undefined;
  } catch {
    return undefined; // cycles, BigInt, throwing getters
  }
}

/** The tracker's core: `index.ts` and `script.ts` put never-throwing faces on it. */
export interface TrackerCore {
  /**
   * Runs a public method by name (`track`, `page`, `identify`, `reset`, `optOut`,
   * `optIn`, `flush`, `destroy`, `ids`): now, or, while the page is not shown yet
   * (prerender), queued with the page of this moment.
   */
  call(method: string, args: unknown[]): unknown;
  readonly ids: Ids;
}

/**
 * Creates the tracker and starts it once the page is shown. `replay` are calls
 * made before it existed (the script tag's stub), each with its page and time.
 *
 * Events are built by one ordered pipeline of ops: every call and interaction
 * is an op with the time it happened; ops run in order once the IDs are known
 * (identity read, tab checked), so the first beacon already carries the
 * deviceId that IndexedDB may have had to give back.
 */
export function startTracker(options: TrackerOptions, env: TrackerEnv, replay: QueuedCall[] = []): TrackerCore | undefined {
  const o = resolveOptions(options);
  const { now, newId } = env;
  const win = env.window;
  const doc = win.document;
  // The page's live trackers, for sessionbeacon/testing (registry.ts, docs/testing.md). A second
  // tracker for the same endpoint and project (the tag twice, or the tag and the npm build) would
  // send every event twice: it is refused.
  const live = ((win as unknown as Record<symbol, Set<TrackerHandle>>)[TRACKERS] ??= new Set());
  const key = `${new URL(o.endpoint, doc.location?.href).href} ${o.projectId}`;
  for (const other of live)
    if (other.key === key) {
      console.warn(`sessionbeacon: a tracker for ${key} already runs on this page; this one does nothing`);
      return undefined;
    }
  const perf = win.performance;
  // The consent decision itself is always stored: forgetting an opt-out would break it.
  const decisions = env.storage(() => true);
  const stored = decisions.local.get(CONSENT_KEY) ?? decisions.cookie.get(CONSENT_KEY);
  const gpc = (win.navigator as Navigator & { globalPrivacyControl?: boolean }).globalPrivacyControl;
  let consent: number = stored === '1' ? GRANTED : stored === '0' || (gpc && o.respectGpc) ? DENIED : o.consent === 'pending' ? PENDING : GRANTED;
  const areas = env.storage(() => consent === GRANTED);
  const identity = identityStore(areas, newId, env.locks);
  const visit = createVisit(areas, { timeout: o.inactivityTimeout, writeEvery: 5000 }, newId, now, env.locks);
  const tab = createTab(areas.session, newId, env.channel);
  // One queue per page (not per tab): a reload's new page adopts the old page's leftovers.
  const queue = createQueue(areas.idb, newId(), now, env.locks, () => consent === GRANTED);
  const outbox = createOutbox(
    { endpoint: o.endpoint, projectId: o.projectId, sdk: SDK_VERSION, flushInterval: o.flushInterval, maxEvents: o.maxBatchEvents },
    env.transport,
    now,
    () => consent !== GRANTED,
    queue,
  );

  let started = false;
  let ready = false;
  let busy = false;
  let destroyed = false;
  let whenReady: Promise<void> = Promise.resolve();
  /** The op waiting for a Web Lock, while `busy`. */
  let waiting: Promise<void> = Promise.resolve();
  /** Resolves once every op queued so far has run. */
  const drained = (): Promise<void> => (busy ? waiting.then(drained) : Promise.resolve());
  const ops: Op[] = [];
  const queued = replay.slice();
  let page: Page | undefined;
  let lastUrl = '';
  let timingPending = false;
  let focused = true;
  let engaged = false;
  let heartbeat: ReturnType<typeof setInterval> | undefined;
  let adoptAgain: ReturnType<typeof setTimeout> | undefined;
  const offs: Off[] = [];
  const href = () => doc.location.href;
  /** Navigation timing of the document load, once complete and sane. */
  const loadTiming = () => navigationTiming(navigationEntry(perf), perf?.now() ?? 0);

  // ---- the ordered pipeline ----

  const op = (ts: number, active: boolean, run?: () => void) => {
    ops.push({ ts, active, run });
    pump();
  };

  /**
   * Runs queued ops in order. Most run synchronously; one whose visit must be
   * decided under a lock waits, and the ops after it wait with it. `leaving`
   * runs everything now with what is known: the page may not get another chance.
   */
  const pump = (leaving = false): void => {
    if (!leaving && (!ready || busy)) return;
    if (leaving) identity.ensure();
    while (ops.length) {
      const next = ops[0];
      const v = next.active || !visit.current ? (leaving ? visit.touchNow(next.ts) : visit.touch(next.ts)) : visit.current;
      if (v instanceof Promise) {
        busy = true;
        waiting = v.then(() => {
          busy = false;
          pump();
        });
        return;
      }
      ops.shift();
      next.run?.();
    }
  };

  const emit = (fields: EventFields) => {
    if (consent === DENIED || !page) return;
    const id = identity.ensure();
    const visitId = visit.current!.visitId;
    outbox.add({
      id: newId(),
      seq: tab.nextSeq(),
      deviceId: id.deviceId,
      anonymousId: id.anonymousId,
      identityId: id.identityId, // undefined until identify(): JSON leaves it out
      visitId,
      sessionId: tab.sessionFor(visitId),
      tabId: tab.record.tabId,
      pageId: page.id,
      ...fields,
    } as WireEvent);
  };

  // ---- pages ----

  /** A page view: the page being left reports its activeTime first. */
  const newPage = (ts: number, url: string, title: string, navigationType: NavigationType, referrer?: string) => {
    lastUrl = url;
    op(ts, true, () => {
      if (page) report('page_leave', ts);
      page = { id: newId(), activity: activeTime(o.idleTimeout, ts, engaged), reported: 0 };
      emit({ type: 'page_view', ts, ...pageContext(win, { url, title, referrer, navigationType }, ts) });
    });
  };

  /** A route change, if the URL really changed: the same URL twice is one page view. */
  const routeTo = (ts: number, url: string, title: string) => url !== lastUrl && newPage(ts, url, title, 'route', lastUrl);

  /** page_leave / page_ping: the page's cumulative activeTime, and the load timing once known. */
  const report = (type: 'page_leave' | 'page_ping', ts: number) => {
    const p = page!;
    const fields: EventFields = { type, ts, activeTime: (p.reported = p.activity.value(ts)), userActions: p.activity.userActions };
    const timing = timingPending && loadTiming();
    if (timing) {
      Object.assign(fields, timing);
      timingPending = false;
    }
    emit(fields);
  };

  const passive = (type: 'page_leave' | 'page_ping', ts: number) => op(ts, false, () => page && report(type, ts));

  // ---- lifecycle ----

  const engage = (ts: number) => {
    engaged = doc.visibilityState !== 'hidden' && focused;
    page?.activity.setEngaged(engaged, ts);
  };

  /** A real interaction: counts for activeTime and keeps the visit alive. */
  const interact = (discrete: boolean) => {
    const ts = now();
    page?.activity.interaction(ts, discrete);
    op(ts, true);
  };

  const hidden = () => {
    const ts = now();
    engage(ts);
    passive('page_leave', ts);
    pump(true);
    visit.flush();
    tab.writeBack(); // the event counter, so the tab's next page continues it
    void outbox.flush(true);
  };

  /** The page is left (maybe into the back/forward cache): hold nothing that keeps it out, or that another page may want. */
  const left = () => {
    outbox.abort(); // a request in flight can keep a page out of some browsers' cache; its events stay queued
    tab.close(); // no answering tab questions while frozen
    queue.release(); // adoptable if this page never comes back
  };

  // Load timing goes out as soon as the load is complete, if the browser has it.
  const loaded = () => timingPending && loadTiming() && passive('page_ping', now());

  const begin = (wasPrerendered: boolean) => {
    if (destroyed) return;
    started = true;
    const ts = now();
    focused = safeHasFocus(doc);
    engaged = doc.visibilityState !== 'hidden' && focused;
    identity.readSync();
    // Without consent IndexedDB is not even opened (opening creates the database): the IDs live in memory.
    whenReady = Promise.all([consent === GRANTED ? identity.loadIdentity() : identity.ensure(), tab.resolve()]).then(() => {
      ready = true;
      pump();
      if (consent === GRANTED) adoptOrphans();
    });

    const first = queued[0];
    timingPending = true;
    newPage(
      first ? Math.min(first.ts, ts) : ts,
      first?.url ?? href(),
      first?.title ?? doc.title,
      loadNavigationType(navigationEntry(perf), wasPrerendered),
      doc.referrer,
    );
    for (const c of queued.splice(0)) {
      // page() is itself the page view of its moment; any other call may follow a route change.
      if (c.method !== 'page') routeTo(c.ts, c.url, c.title);
      run(c.method, c.args, c.ts, c.url, c.title);
    }
    routeTo(ts, href(), doc.title);

    offs.push(
      onHidden(win, hidden),
      listen(win, 'pagehide', left),
      onVisible(doc, () => {
        engage(now());
        interact(false);
      }),
      onFocusChange(win, (f) => {
        focused = f;
        engage(now());
        if (f) interact(false);
      }),
      onInteraction(win, interact),
      listen(win, 'online', outbox.resume),
      // A consent decision made in another tab of the site applies here at once (localStorage's
      // storage event fires in every other page of the origin).
      listen(win, 'storage', (e) => {
        const { key: changed, newValue } = e as StorageEvent;
        if (changed === CONSENT_KEY && (newValue === '0' || newValue === '1')) methods[newValue === '0' ? 'optOut' : 'optIn']([], now(), undefined, undefined, true);
      }),
      // A restore from the back/forward cache is a new page view (with no load timing).
      onRestore(win, () => {
        tab.listen();
        queue.reclaim();
        timingPending = false;
        engage(now());
        newPage(now(), href(), doc.title, 'back_forward_cache');
      }),
    );
    if (o.autoPageViews) offs.push(onRouteChange(win, () => routeTo(now(), href(), doc.title)));
    if (doc.readyState === 'complete') loaded();
    else offs.push(listen(win, 'load', () => setTimeout(loaded)));
    if (o.heartbeatInterval > 0)
      heartbeat = setInterval(() => {
        const t = now();
        if (page && doc.visibilityState === 'visible' && page.activity.value(t) > page.reported) passive('page_ping', t);
      }, o.heartbeatInterval);
  };

  /**
   * Events of pages that closed or crashed before the collector had them. Once more a
   * little later: a page closing just as this one starts may not have let go of its lock yet.
   */
  const adoptOrphans = () => {
    const adopt = () =>
      destroyed ||
      void queue.adoptOrphans().then((adopted) => {
        if (adopted) return outbox.flush();
      });
    adopt();
    clearTimeout(adoptAgain);
    adoptAgain = setTimeout(adopt, ADOPT_AGAIN);
  };

  // ---- public methods ----

  const flush = () =>
    started && consent === GRANTED
      ? whenReady.then(drained).then(() => outbox.flush())
      : Promise.resolve();

  const decide = (value: '0' | '1') => {
    decisions.local.set(CONSENT_KEY, value);
    decisions.cookie.set(CONSENT_KEY, value);
  };

  /** Each method gets the moment of the call and, for a queued call, the page of that moment. */
  const methods: Record<string, (args: unknown[], ts: number, url?: string, title?: string, fromOtherTab?: boolean) => unknown> = {
    track([name, properties], ts) {
      if (typeof name !== 'string' || !name) return;
      const props = jsonProperties(properties);
      op(ts, true, () => emit({ type: 'track', ts, name: cut(name, LIMITS.name), properties: props }));
    },
    page(_, ts, url = href(), title = doc.title) {
      newPage(ts, url, title, 'route', lastUrl);
    },
    identify([value, traits], ts) {
      const identityId = normalizeIdentityId(value);
      const t = jsonProperties(traits);
      if (identityId)
        op(ts, true, () => (identity.identify(identityId) || t) && emit({ type: 'identify', ts, identityId, traits: t }));
    },
    reset(_, ts) {
      op(ts, false, () => identity.reset());
    },
    optOut(_, _ts, _url, _title, fromOtherTab?: boolean) {
      consent = DENIED;
      if (!fromOtherTab) decide('0');
      identity.forget();
      visit.forget();
      tab.forget();
      outbox.stop();
      queue.clear();
    },
    optIn(_, _ts, _url, _title, fromOtherTab?: boolean) {
      if (!fromOtherTab) decide('1');
      if (consent === GRANTED) return flush();
      consent = GRANTED;
      visit.writeBack();
      if (tab.record) tab.writeBack();
      if (!started) return;
      // The identity this page kept in memory gives way to one the browser already stored (another
      // tab's, which consented first): the events held meanwhile are this device's, and say so.
      const held = identity.current;
      return identity.adopt().then((id) => {
        if (held && held.deviceId !== id.deviceId)
          for (const e of queue.events) if (e.deviceId === held.deviceId) Object.assign(e, { deviceId: id.deviceId, anonymousId: id.anonymousId });
        queue.save();
        adoptOrphans();
        return flush();
      });
    },
    flush,
    destroy() {
      const last = flush().then(() => {
        if (tab.record) tab.writeBack(); // the event counter, for the tab's next tracker
      });
      destroyed = true;
      live.delete(handle);
      offs.splice(0).forEach((off) => off());
      clearInterval(heartbeat);
      clearTimeout(adoptAgain);
      visit.flush(); // the pending last-activity write, now rather than by a timer
      outbox.stop();
      tab.close();
      // The queue's lock and lease go once the last flush settled: its events stay adoptable if unsent.
      void last.then(queue.close, queue.close);
      return last;
    },
  };

  const run = (method: string, args: unknown[], ts: number, url?: string, title?: string) =>
    Object.hasOwn(methods, method) ? methods[method](args, ts, url, title) : undefined;

  const core: TrackerCore = {
    call(method, args) {
      if (destroyed) return;
      const ts = now();
      // Calls made while prerendering wait for the page to be shown, with the page of their moment.
      if (!started && /^(track|page|identify|reset)$/.test(method)) queued.push({ method, args, ts, url: href(), title: doc.title });
      else return method === 'ids' ? core.ids : run(method, args, ts);
    },
    get ids() {
      const t = tab.record;
      return { ...identity.current, visitId: visit.current?.visitId, sessionId: t?.sessionId, tabId: t?.tabId, pageId: page?.id };
    },
  };

  const handle: TrackerHandle = { key, flush: () => core.call('flush', []) as Promise<void>, ids: () => core.ids };
  live.add(handle);

  const wasPrerendered = !!(doc as Document & { prerendering?: boolean }).prerendering;
  whenActivated(doc, () => begin(wasPrerendered));
  return core;
}

function safeHasFocus(doc: Document): boolean {
  try {
    return doc.hasFocus();
  } catch {
    return true;
  }
}

/** The browser defaults of every seam. */
export function browserEnv(win: Window, opts: TrackerOptions): TrackerEnv {
  const o = resolveOptions(opts);
  const domain = o.cookies ? checkCookieDomain(win.document, o.cookieDomain) : undefined;
  return {
    window: win,
    now: () => Date.now(),
    newId: () => nanoid(),
    transport: beaconTransport,
    storage: (canStore) => ({
      cookie: o.cookies
        ? cookieArea(win.document, { maxAge: DEVICE_COOKIE_MAX_AGE, domain }, canStore)
        : webStorageArea(() => undefined, canStore),
      local: webStorageArea(() => win.localStorage, canStore),
      session: webStorageArea(() => win.sessionStorage, canStore),
      idb: idbArea(canStore),
    }),
    locks: (win.navigator as Navigator & { locks?: Locks }).locks,
    channel: () => (typeof BroadcastChannel === 'function' ? new BroadcastChannel('sessionbeacon') : undefined),
  };
}
