import { cut, LIMITS, type EventIds, type WireEvent } from '../protocol';
import { DENIED, GRANTED, PENDING, initialConsent, onConsentElsewhere, rememberConsent, type ConsentState } from './consent';
import { isCookieless, refuseIdentify } from './cookieless';
import type { TrackerEnv } from './env';
import { jsonProperties, type EventFields } from './events';
import { identityStore, normalizeIdentityId } from './ids';
import { listen, type Off } from './lib/listen';
import { onFocusChange } from './lib/onFocusChange';
import { onHidden } from './lib/onHidden';
import { onInteraction } from './lib/onInteraction';
import { onRestore } from './lib/onRestore';
import { onRouteChange } from './lib/onRouteChange';
import { onVisible } from './lib/onVisible';
import { whenActivated } from './lib/whenActivated';
import { resolveOptions, type TrackerOptions } from './options';
import { createOutbox, type Outbox } from './outbox';
import { createPages } from './pages';
import { createPipeline } from './pipeline';
import { createQueue, type Queue } from './queue';
import { liveTrackers, type TrackerHandle } from './registry';
import { createTab } from './tab';
import { loadNavigationType, navigationEntry } from './timing';
import { createVisit } from './visit';
import { attempt } from './lib/attempt';

export { browserEnv, type TrackerEnv } from './env';

export const SDK_VERSION = '0.1.0';
/** When to look for orphaned queues a second time, ms after the IDs are known. */
const ADOPT_AGAIN = 3000;
/** The longest the start waits for idle time before booting, ms (the first batch leaves flushInterval after that). */
const BOOT_WITHIN = 300;

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
  /** Stops all tracking, deletes the stored IDs; remembered across pages and applied in every open tab. */
  optOut(): void;
  /** Consent given: stores the IDs, sends what waited and everything after; remembered across pages and applied in every open tab. */
  optIn(): void;
  /** Sends what is queued; resolves when it was answered or failed. Never rejects. */
  flush(): Promise<void>;
  /** The current IDs. */
  readonly ids: Ids;
  /** Sends what is queued, then removes every listener and timer of the tracker and lets go of its Web Locks. */
  destroy(): Promise<void>;
}

/** A call made before the tracker could run it (the script tag's stub, or a prerendered page), with the page of that moment. */
export interface QueuedCall {
  method: string;
  args: unknown[];
  ts: number;
  url: string;
  title: string;
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
 * Returns undefined when the page already runs a tracker for the same endpoint
 * and project (registry.ts).
 *
 * This file is the wiring and the lifecycle: consent (consent.ts) decides what
 * is stored and sent, every call and interaction goes through the ordered
 * pipeline (pipeline.ts) once the IDs are known (ids.ts, visit.ts, tab.ts), page
 * views and their reports are pages.ts, and events leave through the queue and
 * the outbox (queue.ts, outbox.ts).
 */
export function startTracker(options: TrackerOptions, env: TrackerEnv, replay: QueuedCall[] = []): TrackerCore | undefined {
  const o = resolveOptions(options);
  const { now, newId } = env;
  const win = env.window;
  const doc = win.document;
  const key = `${new URL(o.endpoint, doc.location?.href).href} ${o.projectId}`;
  const live = liveTrackers(win, key);
  if (!live) return undefined;

  const decisions = env.storage(() => true);
  /** Read when the tracker boots (its first storage access); nothing is stored or sent before. */
  let consent: ConsentState = PENDING;
  /** Events go without the stored IDs now (cookieless.ts); then nothing is stored either. */
  const cookieless = () => isCookieless(o.cookieless, consent);
  const stores = () => consent === GRANTED && !cookieless();
  /** Events wait in memory (consent pending) or are not sent at all (refused). */
  const held = () => !stores() && !cookieless();
  const areas = env.storage(stores);
  const identity = identityStore(areas, newId, env.locks);
  const visit = createVisit(areas, { timeout: o.inactivityTimeout, writeEvery: 5000 }, newId, now, env.locks);
  const tab = createTab(areas.session, newId, env.channel);
  let queue!: Queue;
  let outbox!: Outbox;
  const pipeline = createPipeline(visit, () => identity.ensure());

  /** Stamps an event with its id, seq and the IDs of this moment, and hands it to the outbox. */
  const emit = (fields: EventFields) => {
    const page = pages.current;
    const c = cookieless();
    if ((consent === DENIED && !c) || !page) return;
    const id = identity.ensure();
    const visitId = visit.current!.visitId;
    outbox.add({
      id: newId(),
      seq: tab.nextSeq(),
      // A cookieless event's mark is the absence of these (cookieless.ts).
      ...(!c && {
        deviceId: id.deviceId,
        anonymousId: id.anonymousId,
        identityId: id.identityId, // undefined until identify(): JSON leaves it out
        visitId,
        sessionId: tab.sessionFor(visitId),
      }),
      tabId: tab.record.tabId,
      pageId: page.id,
      ...fields,
    } as WireEvent);
  };
  const pages = createPages(win, pipeline, emit, newId, o.idleTimeout);

  let started = false;
  let booted = false;
  let destroyed = false;
  let whenReady: Promise<void> = Promise.resolve();
  let adoptAgain: ReturnType<typeof setTimeout> | undefined;
  const queued = replay.slice();
  const offs: Off[] = [];
  const href = () => doc.location.href;

  /**
   * Events of pages that closed or crashed before the collector had them. Once more a
   * little later: a page closing just as this one starts may not have let go of its lock yet.
   */
  const adoptOrphans = () => {
    const adopt = () =>
      destroyed ||
      void queue.adoptOrphans().then((adopted) => {
        if (adopted && stores()) return outbox.flush();
      });
    adopt();
    clearTimeout(adoptAgain);
    adoptAgain = setTimeout(adopt, ADOPT_AGAIN);
  };

  // ---- lifecycle ----

  /**
   * Everything that can wait for the first page view to be queued: the consent
   * decision and the IDs (cookie, web storage, IndexedDB, the Web Locks), the tab
   * check (BroadcastChannel), the queue (its Web Lock, adoption) and the outbox.
   * Runs in idle time after the start, or at once on first need (the page is
   * hidden, a method that needs them is called).
   */
  const boot = () => {
    if (booted || destroyed) return;
    booted = true;
    consent = initialConsent(decisions, o.consent, o.respectGpc, win.navigator);
    // One queue per page (not per tab): a reload's new page adopts the old page's leftovers.
    queue = createQueue(areas.idb, newId(), now, env.locks, stores);
    // The options as resolved (endpoint, projectId, flushInterval) and the outbox's own names.
    outbox = createOutbox({ ...o, sdk: SDK_VERSION, maxEvents: o.maxBatchEvents }, env.transport, now, held, queue);
    pages.engage(now(), attempt(() => doc.hasFocus()) ?? true);
    // A decision made in another tab of the site applies here at once. Listened for from here, not
    // from the start: a 'storage' listener connects the page to its localStorage, 2 to 5 ms at 4x throttling.
    offs.push(onConsentElsewhere(win, (given) => methods[given ? 'optIn' : 'optOut']([], now(), undefined, undefined, true)));
    identity.readSync();
    // Without consent IndexedDB is not even opened (opening creates the database): the IDs live in memory.
    whenReady = Promise.all([stores() ? identity.loadIdentity() : identity.ensure(), tab.resolve(100, cookieless())]).then(() => {
      pipeline.start();
      if (stores()) adoptOrphans();
    });
  };

  const hidden = () => {
    boot();
    const ts = now();
    pages.engage(ts);
    pages.report('page_leave', ts);
    pipeline.runAll();
    visit.flush();
    tab.writeBack(); // the event counter, so the tab's next page continues it
    void outbox.flush(true);
  };

  /** The page is left (maybe into the back/forward cache): hold nothing that keeps it out, or that another page may want. */
  const left = () => {
    boot();
    outbox.abort(); // a request in flight can keep a page out of some browsers' cache; its events stay queued
    tab.close(); // no answering tab questions while frozen
    queue.release(); // adoptable if this page never comes back
  };

  const begin = (wasPrerendered: boolean) => {
    if (destroyed) return;
    started = true;
    const ts = now();
    // The page view first, with its moment: nothing that can wait runs before it is queued.
    const first = queued[0];
    pages.wantTiming(true);
    pages.view(
      first ? Math.min(first.ts, ts) : ts,
      first?.url ?? href(),
      first?.title ?? doc.title,
      loadNavigationType(navigationEntry(win.performance), wasPrerendered),
      doc.referrer,
    );
    for (const c of queued.splice(0)) {
      // page() is itself the page view of its moment; any other call may follow a route change.
      if (c.method !== 'page') pages.routeTo(c.ts, c.url, c.title);
      run(c.method, c.args, c.ts, c.url, c.title);
    }
    pages.routeTo(ts, href(), doc.title);

    const active = () => pages.interact(now(), false);
    offs.push(
      onHidden(win, hidden),
      listen(win, 'pagehide', left),
      onVisible(doc, () => {
        pages.engage(now());
        active();
      }),
      onFocusChange(win, (focused) => {
        pages.engage(now(), focused);
        if (focused) active();
      }),
      onInteraction(win, (discrete) => pages.interact(now(), discrete)),
      listen(win, 'online', () => booted && outbox.resume()),
      // A restore from the back/forward cache is a new page view (with no load timing).
      onRestore(win, () => {
        boot();
        tab.listen();
        queue.reclaim();
        pages.wantTiming(false);
        pages.engage(now());
        pages.view(now(), href(), doc.title, 'back_forward_cache');
      }),
    );
    if (o.autoPageViews) offs.push(onRouteChange(win, () => pages.routeTo(now(), href(), doc.title)));
    // Load timing goes out as soon as the load is complete, if the browser has it.
    if (doc.readyState === 'complete') pages.loaded(now());
    else offs.push(listen(win, 'load', () => setTimeout(() => pages.loaded(now()))));
    if (o.heartbeatInterval > 0) offs.push(pages.heartbeat(o.heartbeatInterval, now));
    // In idle time (at the latest BOOT_WITHIN ms from now), or in the next task where idle callbacks are missing (Safari).
    const idle = (win as Window & { requestIdleCallback?: Window['requestIdleCallback'] }).requestIdleCallback;
    if (idle) idle(boot, { timeout: BOOT_WITHIN });
    else setTimeout(boot);
  };

  // ---- public methods ----

  const flush = () => (started && (boot(), !held()) ? whenReady.then(pipeline.drained).then(() => outbox.flush()) : Promise.resolve());

  /** Each method gets the moment of the call and, for a queued call, the page of that moment. */
  const methods: Record<string, (args: unknown[], ts: number, url?: string, title?: string, fromOtherTab?: boolean) => unknown> = {
    track([name, properties], ts) {
      if (typeof name !== 'string' || !name) return;
      const props = jsonProperties(properties);
      pipeline.op(ts, true, () => emit({ type: 'track', ts, name: cut(name, LIMITS.name), properties: props }));
    },
    page(_, ts, url = href(), title = doc.title) {
      pages.manual(ts, url, title);
    },
    identify([value, traits], ts) {
      const identityId = normalizeIdentityId(value);
      const t = jsonProperties(traits);
      if (identityId) pipeline.op(ts, true, () => (cookieless() ? refuseIdentify() : (identity.identify(identityId) || t) && emit({ type: 'identify', ts, identityId, traits: t })));
    },
    reset(_, ts) {
      pipeline.op(ts, false, () => identity.reset());
    },
    optOut(_, _ts, _url, _title, fromOtherTab) {
      boot();
      consent = DENIED;
      if (!fromOtherTab) rememberConsent(decisions, false);
      clearTimeout(adoptAgain);
      identity.forget();
      visit.forget();
      tab.forget();
      // A tabId and pageId that travelled with the IDs must not go on with cookieless events ('until-consent').
      tab.renew();
      pages.renew();
      outbox.stop();
      queue.clear();
    },
    optIn(_, _ts, _url, _title, fromOtherTab) {
      boot();
      if (!fromOtherTab) rememberConsent(decisions, true);
      if (consent === GRANTED) return flush();
      consent = GRANTED;
      visit.writeBack();
      if (tab.record) tab.writeBack();
      if (!started || !stores()) return;
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
      boot();
      const last = flush().then(() => {
        if (tab.record) tab.writeBack(); // the event counter, for the tab's next tracker
      });
      destroyed = true;
      live.delete(handle);
      offs.splice(0).forEach((off) => off());
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
      if (started) boot();
      const t = tab.record;
      // While cookieless, only what is sent: tabId and pageId.
      return { ...(!cookieless() && { ...identity.current, visitId: visit.current?.visitId, sessionId: t?.sessionId }), tabId: t?.tabId, pageId: pages.current?.id };
    },
  };

  // The page's live trackers, for sessionbeacon/testing (registry.ts, docs/testing.md).
  const handle: TrackerHandle = { key, flush: () => core.call('flush', []) as Promise<void>, ids: () => core.ids };
  live.add(handle);

  const wasPrerendered = !!(doc as Document & { prerendering?: boolean }).prerendering;
  whenActivated(doc, () => begin(wasPrerendered));
  return core;
}

