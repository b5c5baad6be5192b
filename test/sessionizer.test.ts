// @vitest-environment node
import { describe, expect, it } from 'vitest';
import { Engine, rowKey, sessionize, sessionizeDevice, storedEvents } from '../src/server/sessionizer';
import { cut, int, language, queryOf, smallint, splitURL, truncateIp } from '../src/server/sessionizer/columns';
import { ev, MIN, req, T0 } from './sessionizer.helpers';
import type { WireEvent } from '../src/protocol';

const rowsOf = (...requests: Parameters<typeof sessionize>[0]) => sessionize(requests).sort((a, b) => a.sessionStart.localeCompare(b.sessionStart));

describe('sessionization rules (model.md)', () => {
  it('5: 29:59.999 without activity keeps the visit, 30:00.000 starts a new one', () => {
    // Every request takes 50 ms to arrive, so event times are ts + 50.
    const rows = rowsOf(req([ev(T0)]), req([ev(T0 + 30 * MIN - 1)]), req([ev(T0 + 30 * MIN - 1 + 30 * MIN)]));
    expect(rows).toHaveLength(2);
    expect(rows[0].sessionEnd).toBe(new Date(T0 + 30 * MIN - 1 + 50).toISOString());
    expect(rows[1].sessionStart).toBe(new Date(T0 + 60 * MIN - 1 + 50).toISOString());
  });

  it('5: the timeout is configurable', () => {
    const requests = [req([ev(T0)]), req([ev(T0 + 5 * MIN)])];
    expect(sessionize(requests, { inactivity: 5 * MIN })).toHaveLength(2);
    expect(sessionize(requests, { inactivity: 5 * MIN + 1 })).toHaveLength(1);
  });

  it("2: event time is receivedAt - (sentAt - ts): the device's clock error cancels out", () => {
    // The device clock is 1 hour ahead; the batch took 80 ms to arrive.
    const e = ev(T0 + 3_600_000);
    const [stored] = storedEvents(req([e], { sentAt: T0 + 3_600_000 + 500, skew: 3_600_000, delay: 80 }));
    expect(stored.time).toBe(T0 + 80);
    const [row] = sessionize([req([e], { sentAt: T0 + 3_600_000 + 500, skew: 3_600_000, delay: 80 })]);
    expect(row.clockSkew).toBe(-3_600_000 + 80);
  });

  it('1: a retried event counts once, whichever copy came first', () => {
    const e = ev(T0);
    const a = req([e], { sentAt: T0 + 10 });
    const b = req([e, ev(T0 + 1000)], { sentAt: T0 + 5000 });
    for (const order of [[a, b], [b, a]]) {
      const [row] = sessionize(order);
      expect(row.sessionStart).toBe(new Date(T0 + 50).toISOString()); // the copy received first
      expect(row.duration).toBe(1000 - 50 + 50);
    }
  });

  it('3: devices never share a visit; 6: a visit has one session per tab, with the first IDs', () => {
    const rows = rowsOf(
      req([ev(T0, { type: 'page_view', url: 'https://a.example/', visitId: 'v-first', sessionId: 's-a' } as never)]),
      req([ev(T0 + 1000, { tabId: 'tab2', sessionId: 's-b', visitId: 'v-other' })]),
      req([ev(T0 + 2000, { deviceId: 'dev2' })]),
    );
    const dev1 = rows.filter((r) => r.deviceId === 'dev1');
    expect(dev1.map((r) => [r.tabId, r.sessionId, r.visitId])).toEqual([
      ['tab1', 's-a', 'v-first'],
      ['tab2', 's-b', 'v-first'],
    ]);
    expect(rows.filter((r) => r.deviceId === 'dev2')).toHaveLength(1);
  });

  it('page_leave and page_ping never start or extend a visit; they join their page', () => {
    const view = ev(T0, { type: 'page_view', url: 'https://a.example/', pageId: 'p1' } as never);
    const leave = ev(T0 + 45 * MIN, { type: 'page_leave', pageId: 'p1', activeTime: 12_000, userActions: 3 } as never);
    const later = ev(T0 + 60 * MIN, { pageId: 'p1' });
    const rows = rowsOf(req([view]), req([leave]), req([later]));
    expect(rows).toHaveLength(2); // the track 60 min after the view is a new visit despite the leave at 45
    expect(rows[0]).toMatchObject({ activeTime: 12_000, userActionsCount: 3, sessionEnd: new Date(T0 + 45 * MIN + 50).toISOString() });
  });

  it('6: client/server disagreements are counted, and the server grouping wins', () => {
    const events = storedEvents(req([ev(T0, { visitId: 'a' }), ev(T0 + 1000, { visitId: 'b' }), ev(T0 + 40 * MIN, { visitId: 'b' })]));
    const { rows, disagreements } = sessionizeDevice(events);
    expect(rows).toHaveLength(2);
    expect(disagreements).toEqual({ visitsMerged: 1, visitsSplit: 1 });
  });

  it('8: an identify stitches the identityId onto earlier sessions of that anonymousId', () => {
    const rows = rowsOf(
      req([ev(T0)]),
      req([ev(T0 + 2 * 3_600_000, { type: 'identify', identityId: 'user-7' } as never)]),
      req([ev(T0 + 3 * 3_600_000, { anonymousId: 'anon2' })]), // after reset(): another person
    );
    expect(rows.map((r) => [r.anonymousId, r.identityId])).toEqual([
      ['anon1', 'user-7'],
      ['anon1', 'user-7'],
      ['anon2', null],
    ]);
  });
});

describe('the incremental engine', () => {
  it('a late event bridging two visits merges them: the merged row keeps the earlier IDs, the other is deleted', () => {
    const engine = new Engine();
    const table = new Map<string, unknown>();
    const apply = (changes: ReturnType<Engine['ingest']>) => {
      for (const c of changes) {
        if (c.op === 'upsert') table.set(rowKey(c.row), c.row);
        else table.delete(rowKey(c.key));
      }
    };
    apply(engine.ingest(req([ev(T0, { sessionId: 'early', visitId: 'v-early' })])));
    apply(engine.ingest(req([ev(T0 + 50 * MIN, { sessionId: 'late', visitId: 'v-late' })])));
    expect(table.size).toBe(2);
    const changes = engine.ingest(req([ev(T0 + 25 * MIN, { sessionId: 'late', visitId: 'v-late' })]));
    expect(changes.filter((c) => c.op === 'delete')).toHaveLength(1);
    apply(changes);
    expect([...table.values()]).toEqual([expect.objectContaining({ sessionId: 'early', visitId: 'v-early', duration: 50 * MIN })]);
  });

  it('a duplicate changes nothing', () => {
    const engine = new Engine();
    const e = ev(T0);
    engine.ingest(req([e]));
    expect(engine.ingest(req([e], { sentAt: T0 + 100 }))).toEqual([]);
    expect(engine.stats.duplicates).toBe(1);
  });

  it('forgets devices past the horizon, and reloads them from storage when a late event comes', () => {
    const stored: ReturnType<typeof storedEvents> = [];
    const engine = new Engine({
      horizon: 60 * MIN,
      reload: (projectId, deviceId) => stored.filter((s) => s.projectId === projectId && s.event.deviceId === deviceId),
    });
    const ingest = (r: ReturnType<typeof req>) => {
      const changes = engine.ingest(r);
      stored.push(...storedEvents(r)); // as a collector does: stored after it was sessionized
      return changes;
    };
    ingest(req([ev(T0)]));
    ingest(req([ev(T0 + 3 * 3_600_000, { deviceId: 'other' })]));
    expect(engine.evict()).toHaveLength(1);
    expect(engine.openDevices).toBe(1);
    ingest(req([ev(T0 + 10 * MIN)], { sentAt: T0 + 3 * 3_600_000 })); // sent 3 h late (it was offline): its time is still T0 + 10 min
    expect(engine.stats.reloaded).toBe(1);
    const dev1 = engine.rows().filter((r) => r.deviceId === 'dev1');
    expect(dev1).toHaveLength(1);
  });
});

describe('the session row', () => {
  const view = (at: number, over: Record<string, unknown> = {}) =>
    ev(at, {
      type: 'page_view',
      url: 'https://shop.example/landing?utm_source=news&utm_campaign=bf&gclid=G1',
      title: 'Landing',
      referrer: 'https://search.example/q?s=shoes',
      navigationType: 'navigate',
      screenWidth: 1920,
      screenHeight: 1080,
      maxTouchPoints: 0,
      language: 'en-GB',
      timezoneIANA: 'Europe/Paris',
      timezoneOffset: 60,
      ...over,
    } as never);

  it('fills every column from the events and the request', () => {
    const v1 = view(T0, { pageId: 'p1' });
    const ping = ev(T0 + 2000, { type: 'page_ping', pageId: 'p1', activeTime: 1500, userActions: 0, domInteractive: 300, domContentLoaded: 320, load: 800 } as never);
    const leave1 = ev(T0 + 9000, { type: 'page_leave', pageId: 'p1', activeTime: 8000, userActions: 2 } as never);
    const v2 = view(T0 + 9000, { pageId: 'p2', navigationType: 'route', url: 'https://shop.example/cart?step=1&utm_source=mail', title: 'Cart', referrer: 'https://shop.example/landing' });
    const leave2 = ev(T0 + 20_000, { type: 'page_leave', pageId: 'p2', activeTime: 5000, userActions: 1 } as never);
    const [row] = sessionize([
      req([v1, ping], { headers: { 'cf-ipcountry': 'fr', 'x-vercel-ip-city': 'Saint-%C3%89tienne' } }),
      req([leave1, v2, leave2]),
    ]);
    expect(row).toMatchObject({
      projectId: 1,
      pageId: 'p1',
      duration: 20_000,
      activeTime: 13_000,
      userActionsCount: 3,
      pageViewsCount: 2,
      localStartTime: '10:00:00.050',
      weekday: 7, // 22 Nov 2026 is a Sunday
      timezoneOffset: 60,
      timezoneIANA: 'Europe/Paris',
      ipAddress: '203.0.113.0',
      countryCode: 'FR',
      city: 'Saint-Étienne',
      browserName: 'Chrome',
      browserVersion: 156,
      engineName: 'Blink',
      osName: 'Windows',
      deviceCategory: 'desktop',
      isBot: false,
      screenWidth: 1920,
      touch: false,
      requestedLanguage: 'en',
      requestedRegion: 'GB',
      utmSource: ['news', 'mail'],
      utmCampaign: ['bf'],
      utmMedium: null,
      clickIds: { gclid: 'G1' },
      referrerURLOrigin: 'https://search.example',
      referrerURLPath: '/q',
      referrerURLSearchParams: { s: 'shoes' },
      initTitle: 'Landing',
      initURLOrigin: 'https://shop.example',
      initURLPath: '/landing',
      exitTitle: 'Cart',
      exitURLPath: '/cart',
      exitURLSearchParams: { step: '1', utm_source: 'mail' },
      pageReloaded: false,
      domInteractive: 300,
      domContentLoaded: 320,
      load: 800,
      sdkVersion: '0.1.0',
      browserFingerprint: null,
      deviceFingerprint: null,
    });
  });

  it('an internal referrer is not the session referrer; a reload is pageReloaded; automation is a bot', () => {
    const [row] = sessionize([req([view(T0, { referrer: 'https://shop.example/other', navigationType: 'reload', automation: true })])]);
    expect(row).toMatchObject({ referrerURLOrigin: null, pageReloaded: true, isBot: true, deviceCategory: 'bot' });
  });

  it('a reload later in the session is pageReloaded too; the timing stays the first load\'s', () => {
    const first = view(T0, { pageId: 'p1' });
    const again = view(T0 + 5000, { pageId: 'p2', navigationType: 'reload' });
    const timing = (pageId: string, load: number) => ev(T0 + 6000, { type: 'page_ping', pageId, activeTime: 100, userActions: 0, domInteractive: 1, domContentLoaded: 2, load } as Partial<WireEvent>);
    const [row] = sessionize([req([first, again, timing('p1', 300), timing('p2', 900)])]);
    expect(row).toMatchObject({ pageViewsCount: 2, pageReloaded: true, load: 300 });
    const [plain] = sessionize([req([view(T0, { pageId: 'p1' }), view(T0 + 5000, { pageId: 'p2', navigationType: 'route' })])]);
    expect(plain.pageReloaded).toBe(false);
  });

  it('client hints give the real brand; varchar limits are honoured by truncation', () => {
    const [row] = sessionize([
      req([view(T0, { title: 'T'.repeat(500), userAgentData: { brands: [{ brand: 'Not A;Brand', version: '99' }, { brand: 'Chromium', version: '156' }, { brand: 'Microsoft Edge', version: '156' }], mobile: false, platform: 'Windows' } })], { userAgent: 'x'.repeat(400) }),
    ]);
    expect(row.browserName).toBe('Microsoft Edge');
    expect(row.initTitle).toHaveLength(128);
    expect(row.userAgent).toHaveLength(160);
  });

  it('column helpers', () => {
    expect(truncateIp('198.51.100.23')).toBe('198.51.100.0');
    expect(truncateIp('2001:db8:abcd:12:1:2:3:4')).toBe('2001:db8:abcd::');
    // As PostgreSQL's inet writes them (the first longest run of zero groups as ::): found by the collector's fuzz test.
    expect(truncateIp('2001:db8::1')).toBe('2001:db8::');
    expect(truncateIp('::1:9fc8:aed:7e6:7d:2:9d6', true)).toBe('0:1:9fc8:aed:7e6:7d:2:9d6');
    expect(truncateIp('0:1:0:0:5:0:0:0', true)).toBe('0:1:0:0:5::');
    expect(truncateIp('::a:b', true)).toBe('::0.10.0.11');
    expect(truncateIp('::1')).toBe('::');
    expect(truncateIp('1.2.3.04', true)).toBe('1.2.3.4');
    expect(truncateIp('::ffff:192.0.2.9')).toBe('192.0.2.0');
    expect(truncateIp('198.51.100.23', true)).toBe('198.51.100.23');
    for (const bad of ['', 'localhost', '999.1.1.1', '1:2:3', 'a::b::c', undefined]) expect(truncateIp(bad)).toBeNull();
    expect(language('pt-BR')).toEqual({ requestedLanguage: 'pt', requestedRegion: 'BR' });
    expect(language('zh-Hant-TW')).toEqual({ requestedLanguage: 'zh', requestedRegion: 'TW' });
    expect(language('es-419')).toEqual({ requestedLanguage: 'es', requestedRegion: null });
    expect(language(undefined)).toEqual({ requestedLanguage: null, requestedRegion: null });
    expect(cut('😀'.repeat(3), 2)).toBe('😀😀');
    expect(splitURL('not a url')).toEqual({ origin: null, path: null, searchParams: null });
  });

  it('never makes what PostgreSQL would store differently: no -0, no NUL from a decoded query (both found by the fuzz test)', () => {
    expect(Object.is(int(-0.4), 0)).toBe(true);
    expect(Object.is(int(-0), 0)).toBe(true);
    expect(Object.is(smallint(-0), 0)).toBe(true);
    expect(splitURL('https://a.example/?q=%00x&%00=1').searchParams).toEqual({ q: '\ufffdx', '\ufffd': '1' });
    expect(queryOf('https://a.example/?UTM_SOURCE=%00').get('utm_source')).toBe('\ufffd');
  });
});
