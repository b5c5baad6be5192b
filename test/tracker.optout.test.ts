// An opt-out reaches everything the IDs travelled with (found by review, issue 16):
// other pages' unsent queues, a request split after a 413, and the tabId and pageId
// that cookieless events would otherwise share with the full-ID events before them.
import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import { createTracker, type Tracker } from '../src/client/index';
import { idSequence, newBrowser, serialLocks, settle, testEnv } from './helpers';

const T0 = Date.UTC(2026, 11, 3, 9, 0, 0);
let trackers: Tracker[] = [];
beforeEach(() => {
  vi.useFakeTimers({ now: T0 });
  Object.defineProperty(document, 'visibilityState', { value: 'visible', configurable: true });
  Object.defineProperty(document, 'prerendering', { value: false, configurable: true });
});
afterEach(async () => {
  for (const t of trackers) await t.destroy();
  trackers = [];
  vi.useRealTimers();
});

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
