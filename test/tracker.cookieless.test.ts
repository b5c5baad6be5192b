import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { packBodies, utf8Length } from '../src/client/batch';
import { DENIED, GRANTED, PENDING } from '../src/client/consent';
import { isCookieless } from '../src/client/cookieless';
import { IDENTITY_KEY } from '../src/client/ids';
import { createTracker, type Tracker } from '../src/client/index';
import { resolveOptions } from '../src/client/options';
import { optionsFromDataset } from '../src/client/stub';
import { encodeTab, TAB_KEY } from '../src/client/tab';
import { VISIT_KEY } from '../src/client/visit';
import { expandEvents, type Batch, type WireEvent } from '../src/protocol';
import { requestProblem } from '../src/server/sessionizer/validate';
import { idSequence, newBrowser, serialLocks, setVisibility, settle, testEnv, type Browser } from './helpers';

// Cookieless mode, the client side (issue 16; README, "Cookieless mode"; src/client/cookieless.ts).

const T0 = Date.UTC(2026, 11, 3, 9, 0, 0);
/** What a cookieless event must not carry (the collector derives or refuses them: src/server/sessionizer/validate.ts). */
const STORED_IDS = ['deviceId', 'anonymousId', 'identityId', 'visitId', 'sessionId'] as const;

let trackers: Tracker[] = [];
function start(...args: Parameters<typeof createTracker>) {
  const t = createTracker(...args);
  trackers.push(t);
  return t;
}

/** A tab of `browser`, with an IndexedDB spy: every call its tracker makes on the area is listed. */
const ids = idSequence('x');
function tab(browser: Browser, session = new Map<string, string>()) {
  const made = testEnv({ browser, session, locks: serialLocks(), newId: ids });
  const idbCalls: string[] = [];
  const base = made.env.storage;
  made.env.storage = (canStore) => {
    const areas = base(canStore);
    const idb = Object.fromEntries(Object.entries(areas.idb).map(([name, fn]) => [name, (...args: unknown[]) => (idbCalls.push(name), (fn as (...a: unknown[]) => unknown)(...args))]));
    return { ...areas, idb: idb as unknown as typeof areas.idb };
  };
  return { ...made, session, idbCalls };
}

/**
 * Nothing on the device: no cookie, localStorage, sessionStorage or IndexedDB entry, and IndexedDB
 * never asked anything but a set(), which the real area refuses before opening the database
 * (storage.ts; proved below with a real IndexedDB).
 */
function expectNothingStored(browser: Browser, t: ReturnType<typeof tab>) {
  expect([...browser.cookie.keys(), ...browser.local.keys(), ...t.session.keys(), ...browser.idb.keys()]).toEqual([]);
  expect(t.idbCalls.filter((c) => c !== 'set')).toEqual([]);
}

/** Every attempt is a request the collector's own validator takes. */
function expectValid(t: ReturnType<typeof tab>) {
  for (const { body } of t.transport.attempts) expect(requestProblem({ receivedAt: T0, body })).toBeUndefined();
}

const cookielessEvent = (e: WireEvent) => STORED_IDS.every((k) => !(k in e)) && !!e.tabId && !!e.pageId;

beforeEach(() => {
  vi.useFakeTimers({ now: T0 });
  history.replaceState(null, '', '/landing');
  Object.defineProperty(document, 'visibilityState', { value: 'visible', configurable: true });
  Object.defineProperty(document, 'prerendering', { value: false, configurable: true });
});

afterEach(async () => {
  for (const t of trackers) await t.destroy();
  trackers = [];
  vi.restoreAllMocks();
  vi.useRealTimers();
});

describe('the cookieless option', () => {
  it('is false, true or until-consent; until-consent starts with consent pending; anything else is false', () => {
    expect(resolveOptions({ endpoint: '/c' })).toMatchObject({ cookieless: false, consent: 'granted' });
    expect(resolveOptions({ endpoint: '/c', cookieless: true })).toMatchObject({ cookieless: true, consent: 'granted' });
    expect(resolveOptions({ endpoint: '/c', cookieless: 'until-consent' })).toMatchObject({ cookieless: 'until-consent', consent: 'pending' });
    expect(resolveOptions({ endpoint: '/c', cookieless: 'until-consent', consent: 'granted' })).toMatchObject({ consent: 'pending' });
    for (const junk of ['yes', 1, {}, 'true'])
      expect(resolveOptions({ endpoint: '/c', cookieless: junk as never }).cookieless).toBe(false);
    // The script tag's data-cookieless.
    expect(resolveOptions(optionsFromDataset({ endpoint: '/c', cookieless: 'true' })).cookieless).toBe(true);
    expect(resolveOptions(optionsFromDataset({ endpoint: '/c', cookieless: 'until-consent' })).cookieless).toBe('until-consent');
    expect(resolveOptions(optionsFromDataset({ endpoint: '/c', cookieless: 'false' })).cookieless).toBe(false);
  });

  it('decides per consent state: true unless refused, until-consent unless given, false never', () => {
    expect(([GRANTED, PENDING, DENIED] as const).map((c) => isCookieless(true, c))).toEqual([true, true, false]);
    expect(([GRANTED, PENDING, DENIED] as const).map((c) => isCookieless('until-consent', c))).toEqual([false, true, true]);
    expect(([GRANTED, PENDING, DENIED] as const).map((c) => isCookieless(false, c))).toEqual([false, false, false]);
  });
});

describe('packBodies with cookieless events', () => {
  const ev = (i: number, cookieless: boolean): WireEvent =>
    ({ id: `e${i}`, type: 'track', ts: T0 + i, seq: i, name: 'n'.repeat(300), tabId: 't', pageId: 'p', ...(cookieless ? {} : { deviceId: 'd', anonymousId: 'a', visitId: 'v', sessionId: 's' }) }) as WireEvent;

  it('never mixes them with the others, and marks their bodies', () => {
    const events = [ev(1, true), ev(2, true), ev(3, false), ev(4, true)];
    const bodies = packBodies(events, { sdk: 'x' }, T0).map((b) => JSON.parse(b.body) as Batch);
    expect(bodies.map((b) => b.cookieless)).toEqual([true, undefined, true]);
    expect(bodies.map((b) => b.events.length)).toEqual([2, 1, 1]);
    expect(bodies.flatMap(expandEvents)).toEqual(events);
    expect(bodies[0]).toMatchObject({ tabId: 't', pageId: 'p' });
    for (const b of bodies) expect(requestProblem({ receivedAt: T0, body: b })).toBeUndefined();
  });

  it('counts the mark against the request limit', () => {
    const events = Array.from({ length: 40 }, (_, i) => ev(i, true));
    for (let max = 1500; max < 4000; max += 37)
      for (const b of packBodies(events, { sdk: 'x', dropped: 3 }, T0, max)) expect(utf8Length(b.body)).toBeLessThanOrEqual(max);
  });
});

describe('cookieless: true', () => {
  it('sends cookieless batches with tabId and pageId only, and stores nothing anywhere, through hides and leaving', async () => {
    const browser = newBrowser();
    const t = tab(browser);
    const tracker = start({ endpoint: '/c', projectId: 42, cookieless: true }, t.env);
    tracker.track('clicked', { a: 1 });
    window.dispatchEvent(new Event('scroll'));
    await settle(6000);
    setVisibility('hidden'); // page_leave as a beacon
    setVisibility('visible');
    tracker.page();
    await tracker.flush();
    window.dispatchEvent(Object.assign(new Event('pagehide'), { persisted: false }));
    await settle(6000);
    expect(t.transport.batches.length).toBeGreaterThan(1);
    for (const b of t.transport.batches) expect(b.cookieless).toBe(true);
    expect(t.transport.events.map((e) => e.type)).toEqual(expect.arrayContaining(['page_view', 'track', 'page_leave']));
    expect(t.transport.events.every(cookielessEvent)).toBe(true);
    expect(t.transport.leaving).toContain(true);
    expect(new Set(t.transport.events.map((e) => e.tabId)).size).toBe(1);
    expectValid(t);
    expectNothingStored(browser, t);
    expect(tracker.ids).toEqual({ tabId: t.transport.events[0].tabId, pageId: expect.any(String) });
  });

  it('retries in memory: events that failed go out once the collector answers', async () => {
    const browser = newBrowser();
    const t = tab(browser);
    t.transport.fail = true;
    const tracker = start({ endpoint: '/c', cookieless: true, heartbeatInterval: 0 }, t.env);
    tracker.track('while_down');
    await settle(5000);
    expect(t.transport.attempts.length).toBeGreaterThan(1);
    expect(t.transport.batches).toHaveLength(0);
    t.transport.fail = false;
    await settle(10 * 60_000);
    expect(t.transport.events.map((e) => e.type)).toEqual(['page_view', 'track']);
    expect(t.transport.events.every(cookielessEvent)).toBe(true);
    expectNothingStored(browser, t);
  });

  it('three page loads of one tab: each its own tabId, nothing stored, nothing adopted', async () => {
    const browser = newBrowser();
    const session = new Map<string, string>();
    const tabIds: string[] = [];
    for (let i = 0; i < 3; i++) {
      const t = tab(browser, session);
      const tracker = start({ endpoint: '/c', cookieless: true }, t.env);
      await tracker.flush();
      setVisibility('hidden');
      await tracker.destroy();
      setVisibility('visible');
      expect(t.transport.events.every(cookielessEvent)).toBe(true);
      tabIds.push(t.transport.events[0].tabId);
      expectNothingStored(browser, t);
    }
    expect(new Set(tabIds).size).toBe(3);
  });

  it('does not even read a tabId stored in the tab (another tracker of the origin, or an earlier page with consent)', async () => {
    const browser = newBrowser();
    const session = new Map([[TAB_KEY, encodeTab({ tabId: 'storedTab', sessionId: 'storedSession', visitId: 'storedVisit', seq: 7 })]]);
    const t = tab(browser, session);
    const tracker = start({ endpoint: '/c', cookieless: true }, t.env);
    await tracker.flush();
    expect(t.transport.events[0].tabId).not.toBe('storedTab');
    expect(t.transport.events[0].seq).toBe(0);
    expect(session.get(TAB_KEY)).toContain('storedTab'); // and left as it was
  });

  it('refuses identify() with a console warning: no identityId is ever sent', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const browser = newBrowser();
    const t = tab(browser);
    const tracker = start({ endpoint: '/c', cookieless: true }, t.env);
    tracker.identify('user-1', { plan: 'pro' });
    tracker.track('after');
    await tracker.flush();
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0][0])).toMatch(/^sessionbeacon: cookieless: no identify\(\)/);
    expect(t.transport.events.map((e) => e.type)).toEqual(['page_view', 'track']);
    expect(JSON.stringify(t.transport.attempts)).not.toContain('user-1');
    expectNothingStored(browser, t);
  });

  it('an opt-out (or Global Privacy Control) sends nothing at all', async () => {
    const browser = newBrowser();
    const t = tab(browser);
    const tracker = start({ endpoint: '/c', cookieless: true }, t.env);
    await tracker.flush();
    const sent = t.transport.attempts.length;
    tracker.optOut();
    tracker.track('after_opt_out');
    setVisibility('hidden');
    setVisibility('visible');
    await settle(5000);
    expect(t.transport.attempts).toHaveLength(sent);
    Object.defineProperty(navigator, 'globalPrivacyControl', { value: true, configurable: true });
    try {
      const gpc = tab(newBrowser());
      start({ endpoint: '/c?gpc', cookieless: true }, gpc.env);
      await settle(5000);
      expect(gpc.transport.attempts).toHaveLength(0);
    } finally {
      Object.defineProperty(navigator, 'globalPrivacyControl', { value: undefined, configurable: true });
    }
  });
});

describe("cookieless: 'until-consent'", () => {
  it('sends cookieless before optIn, the full IDs from optIn on (stored then), and cookieless again after optOut', async () => {
    const browser = newBrowser();
    const t = tab(browser);
    const tracker = start({ endpoint: '/c', cookieless: 'until-consent' }, t.env);
    tracker.track('before');
    await tracker.flush();
    expect(t.transport.events.map((e) => e.type)).toEqual(['page_view', 'track']);
    expect(t.transport.events.every(cookielessEvent)).toBe(true);
    expectNothingStored(browser, t);

    tracker.optIn();
    tracker.track('consented');
    await tracker.flush();
    const after = t.transport.events.slice(2);
    expect(after.map((e) => e.type)).toEqual(['track']);
    expect(after[0]).toMatchObject({ deviceId: expect.any(String), anonymousId: expect.any(String), visitId: expect.any(String), sessionId: expect.any(String) });
    expect(t.transport.batches.at(-1)!.cookieless).toBeUndefined();
    expect(browser.local.get(IDENTITY_KEY)).toContain(after[0].deviceId);
    expect(t.session.has(TAB_KEY) && browser.local.has(VISIT_KEY)).toBe(true);
    expect(tracker.ids.deviceId).toBe(after[0].deviceId);

    tracker.optOut();
    tracker.track('refused');
    await tracker.flush();
    const last = t.transport.events.at(-1)!;
    expect(last).toMatchObject({ type: 'track', name: 'refused' });
    expect(cookielessEvent(last)).toBe(true);
    expect(browser.local.has(IDENTITY_KEY) || browser.cookie.has(IDENTITY_KEY) || browser.idb.has(IDENTITY_KEY) || t.session.has(TAB_KEY)).toBe(false);
    expect(browser.local.get('sb_consent')).toBe('0');
    expectValid(t);
  });

  it('events stamped before optIn stay cookieless even when they are sent after it', async () => {
    const browser = newBrowser();
    const t = tab(browser);
    t.transport.fail = true;
    const tracker = start({ endpoint: '/c', cookieless: 'until-consent' }, t.env);
    tracker.track('measured_without_consent');
    await settle(3000);
    tracker.optIn();
    tracker.track('with_consent');
    t.transport.fail = false;
    await settle(10 * 60_000);
    await tracker.flush();
    const byName = (type: string, name?: string) => t.transport.events.find((e) => e.type === type && (!name || (e as { name?: string }).name === name))!;
    expect(cookielessEvent(byName('page_view'))).toBe(true);
    expect(cookielessEvent(byName('track', 'measured_without_consent'))).toBe(true);
    expect(byName('track', 'with_consent').deviceId).toEqual(expect.any(String));
    expectValid(t);
  });

  it('identify() is refused before optIn and taken after it', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const browser = newBrowser();
    const t = tab(browser);
    const tracker = start({ endpoint: '/c', cookieless: 'until-consent' }, t.env);
    tracker.identify('early');
    await tracker.flush();
    expect(warn).toHaveBeenCalledTimes(1);
    tracker.optIn();
    tracker.identify('user-1');
    await tracker.flush();
    expect(t.transport.events.filter((e) => e.type === 'identify').map((e) => e.identityId)).toEqual(['user-1']);
    expect(JSON.stringify(t.transport.attempts)).not.toContain('early');
    expectValid(t);
  });

  it('a later page follows the stored decision: full IDs after an optIn, cookieless after an optOut; GPC is cookieless', async () => {
    const browser = newBrowser();
    const first = tab(browser);
    const a = start({ endpoint: '/c', cookieless: 'until-consent' }, first.env);
    a.optIn();
    await a.destroy();
    const second = tab(browser);
    const b = start({ endpoint: '/c', cookieless: 'until-consent' }, second.env);
    await b.flush();
    expect(second.transport.events[0].deviceId).toEqual(expect.any(String));
    b.optOut();
    await b.destroy();
    const third = tab(browser);
    const c = start({ endpoint: '/c', cookieless: 'until-consent' }, third.env);
    await c.flush();
    expect(third.transport.events.map((e) => e.type)).toEqual(['page_view']);
    expect(cookielessEvent(third.transport.events[0])).toBe(true);
    Object.defineProperty(navigator, 'globalPrivacyControl', { value: true, configurable: true });
    try {
      const gpc = tab(newBrowser());
      const d = start({ endpoint: '/c?gpc', cookieless: 'until-consent' }, gpc.env);
      await d.flush();
      expect(gpc.transport.events.map((e) => e.type)).toEqual(['page_view']);
      expect(cookielessEvent(gpc.transport.events[0])).toBe(true);
    } finally {
      Object.defineProperty(navigator, 'globalPrivacyControl', { value: undefined, configurable: true });
    }
  });
});

describe('the IndexedDB area, in a real IndexedDB (fake-indexeddb)', () => {
  it('creates no database for a refused write or a delete, and deletes from one that exists', async () => {
    vi.useRealTimers();
    const { IDBFactory } = await import('fake-indexeddb');
    const { idbArea } = await import('../src/client/storage');
    const g = globalThis as { indexedDB?: IDBFactory };
    const before = g.indexedDB;
    g.indexedDB = new IDBFactory();
    try {
      let allowed = false;
      const area = idbArea(() => allowed);
      await area.set('k', 'v'); // storing not allowed (consent pending, or cookieless)
      await area.del('k'); // an opt-out on a device that never stored anything
      expect(await g.indexedDB.databases()).toEqual([]);
      allowed = true;
      await area.set('k', 'v');
      expect((await g.indexedDB.databases()).map((d) => d.name)).toEqual(['sessionbeacon']);
      const later = idbArea(() => false); // a later page, which has not opened it
      await later.del('k');
      expect(await area.get('k')).toBeUndefined();
    } finally {
      g.indexedDB = before;
    }
  });
});

describe('pending consent (cookieless: false)', () => {
  it('asks IndexedDB nothing and stores nothing until optIn, then stores', async () => {
    const browser = newBrowser();
    const t = tab(browser);
    const tracker = start({ endpoint: '/c', consent: 'pending' }, t.env);
    tracker.track('x');
    setVisibility('hidden');
    setVisibility('visible');
    await settle(5000);
    expect(t.transport.attempts).toHaveLength(0);
    // set() is refused by canStore before the real area opens anything (storage.ts).
    expect(t.idbCalls.filter((c) => c !== 'set')).toEqual([]);
    expect([...browser.cookie.keys(), ...browser.local.keys(), ...t.session.keys(), ...browser.idb.keys()]).toEqual([]);
    tracker.optIn();
    await tracker.flush();
    expect(browser.idb.has(IDENTITY_KEY)).toBe(true);
  });
});

// An opt-out reaches everything the IDs travelled with (found by review): other pages'
// unsent queues, a request split after a 413, and the tabId and pageId that cookieless
// events would otherwise share with the full-ID events before them.
describe('optOut', () => {
  it("after optOut ('until-consent'), the cookieless events share no tabId, pageId or seq with the full-ID events sent before", async () => {
    const browser = newBrowser();
    const t = testEnv({ browser, session: new Map(), locks: serialLocks(), newId: idSequence('r1') });
    const tracker = createTracker({ endpoint: '/c', cookieless: 'until-consent' }, t.env);
    trackers.push(tracker);
    await tracker.flush();
    tracker.optIn();
    tracker.track('consented');
    await tracker.flush();
    const full = t.transport.events.at(-1)!;
    expect(full.deviceId).toBeDefined();
    tracker.optOut();
    tracker.track('refused');
    await tracker.flush();
    const after = t.transport.events.at(-1)!;
    expect(after).toMatchObject({ type: 'track', name: 'refused', seq: 0 });
    expect(after.deviceId).toBeUndefined();
    expect(after.tabId).not.toBe(full.tabId);
    expect(after.pageId).not.toBe(full.pageId);
  });

  it("optOut deletes other pages' unsent queues, and none is adopted or sent after it", async () => {
    const browser = newBrowser();
    const locks = serialLocks();
    // An earlier page's unsent events (full IDs), its page still closing (lock held) at boot.
    const orphan = { id: 'old-ev', type: 'track', name: 'old', ts: T0 - 1000, seq: 0, deviceId: 'OLD-DEVICE', anonymousId: 'OLD-ANON', identityId: 'user@x', visitId: 'v', sessionId: 's', tabId: 't', pageId: 'p' };
    browser.idb.set('sb_q:old', JSON.stringify({ lease: T0, events: [orphan] }));
    locks.held.add('sessionbeacon:q:old');
    const t = testEnv({ browser, session: new Map(), locks, newId: idSequence('r2') });
    const tracker = createTracker({ endpoint: '/c', cookieless: 'until-consent' }, t.env);
    trackers.push(tracker);
    await tracker.flush();
    tracker.optIn();
    await settle(10);
    locks.held.delete('sessionbeacon:q:old'); // the old page is gone now: the second look (3 s) would adopt it
    tracker.optOut();
    const sentBefore = t.transport.events.length;
    await settle(4000);
    expect([...browser.idb.keys()].filter((k) => k.startsWith('sb_q:'))).toEqual([]);
    expect(t.transport.events.slice(sentBefore).some((e) => e.deviceId === 'OLD-DEVICE' || e.identityId)).toBe(false);
  });

  it('a full-ID request in flight at optOut and answered 413 is not split and sent again', async () => {
    const browser = newBrowser();
    const t = testEnv({ browser, session: new Map(), locks: serialLocks(), newId: idSequence('r3') });
    const base = t.env.transport;
    let release: (() => void) | undefined;
    let first = true;
    const sent: { after: boolean; ids: (string | undefined)[] }[] = [];
    let optedOut = false;
    t.env.transport = (url, body, leaving, signal) => {
      const parsed = JSON.parse(body);
      sent.push({ after: optedOut, ids: parsed.events.map((e: { deviceId?: string }) => e.deviceId ?? parsed.deviceId) });
      if (first && parsed.events.length > 1 && (parsed.deviceId || parsed.events[0].deviceId)) {
        first = false;
        return new Promise((r) => (release = () => r({ status: 413 })));
      }
      return base(url, body, leaving, signal);
    };
    const tracker = createTracker({ endpoint: '/c', cookieless: 'until-consent' }, t.env);
    trackers.push(tracker);
    await tracker.flush();
    tracker.optIn();
    tracker.track('a');
    tracker.track('b');
    void tracker.flush();
    await settle(10);
    expect(release).toBeDefined(); // the full-ID request is in flight
    tracker.optOut();
    optedOut = true;
    release!();
    await settle(100);
    expect(sent.filter((s) => s.after && s.ids.some(Boolean))).toEqual([]);
  });
});
