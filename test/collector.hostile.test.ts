// @vitest-environment node
// The collector under hostile and unusual input (issue 13), through fastify's inject
// against PGlite and a real PostgreSQL: every batch the contract allows is stored,
// no value the schema lets through is a 5xx, read parameters are checked, geo
// headers are believed only when configured, rate limits answer like every other
// refusal, /visits reads the server's grouping, and the SDK's dropped count is kept.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { LIMITS, type WireEvent } from '../src/protocol';
import { createCollector, hashToken, parseConfig, type CollectorConfig, type Database } from '../src/server';
import { sessionizeDevice } from '../src/server/sessionizer/device';
import type { SessionRow } from '../src/server/sessionizer/row';
import { backends, expectedRows, sessionRows, storedEvents } from './support/databases';
import { ev, MIN, T0, UA } from './sessionizer.helpers';

const TOKEN = 'token-for-project-7';
const OTHER = 'token-for-project-8';
const INT_MAX = 2_147_483_647;
const base = { projects: [{ id: 7, origins: ['*'], readTokens: [hashToken(TOKEN)] }, { id: 8, origins: ['*'], readTokens: [hashToken(OTHER)] }] };
const CONFIG: CollectorConfig = parseConfig(base);

const view = (at: number, over: Record<string, unknown> = {}) =>
  ev(at, { type: 'page_view', url: 'https://shop.example/', title: 'Home', navigationType: 'navigate', ...over } as Partial<WireEvent>);
const leave = (at: number, over: Record<string, unknown> = {}) => ev(at, { type: 'page_leave', activeTime: 1000, userActions: 1, ...over } as Partial<WireEvent>);
/** An event with nothing but what the contract requires. */
const bare = (type: string, at: number, over: Record<string, unknown> = {}) =>
  ({ id: `bare-${type}-${at}-${Math.random()}`, type, ts: at, seq: 0, deviceId: 'dev1', anonymousId: 'anon1', visitId: 'cv1', sessionId: 'cs1', tabId: 'tab1', pageId: 'page1', ...over }) as unknown as WireEvent;

for (const backend of backends()) {
  describe(`collector under hostile input, on ${backend.name}`, () => {
    let db: Database;
    let app: FastifyInstance;
    let clock = T0;

    const start = async (config: CollectorConfig = CONFIG) => {
      await app?.close();
      ({ app } = await createCollector({ db, config, now: () => clock }));
    };
    const send = (body: unknown, headers: Record<string, string> = {}, ip = '203.0.113.77') =>
      app.inject({ method: 'POST', url: '/collect', headers: { 'content-type': 'text/plain;charset=UTF-8', 'user-agent': UA, ...headers }, remoteAddress: ip, payload: typeof body === 'string' ? body : JSON.stringify(body) });
    const batch = (events: WireEvent[], extra: Record<string, unknown> = {}) => ({ v: 1, projectId: 7, sentAt: Math.max(...events.map((e) => e.ts), T0), sdk: '0.1.0', events, ...extra });
    const get = (url: string, token = TOKEN) => app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${token}` } });
    const count = async () => (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM atomic.events')).rows[0].n;
    const only = async (): Promise<SessionRow> => {
      const rows = await sessionRows(db);
      expect(rows).toHaveLength(1);
      return rows[0];
    };

    beforeAll(async () => {
      db = await backend.open();
    }, 60_000);
    afterAll(async () => {
      await app?.close();
      await db?.close();
      await backend.stop();
    });
    beforeEach(async () => {
      await db.exec('TRUNCATE atomic.events, atomic.session, atomic.dropped');
      clock = T0;
      await start();
    });

    describe('accepts every batch the contract allows', () => {
      it('events with only id, type, ts, seq and the IDs, of every type: stored, with the documented defaults', async () => {
        const events = ['page_view', 'page_ping', 'page_leave', 'track', 'identify'].map((t, i) => bare(t, T0 + i * 1000));
        const response = await send(batch(events));
        expect(response.statusCode, response.body).toBe(200);
        expect(response.json()).toEqual({ accepted: 5, duplicates: 0, stale: 0 });
        const row = await only();
        // No navigationType reads as a document load (navigate); no activeTime in the reports counts 0.
        expect(row).toMatchObject({ pageViewsCount: 1, pageReloaded: false, activeTime: 0, userActionsCount: 0, initURLPath: null, initTitle: null, identityId: null });
        expect(await sessionRows(db)).toEqual(expectedRows(await storedEvents(db)));
      });

      it('an event type this version does not know is stored, and is not activity (it never opens a visit)', async () => {
        clock = T0 + 45 * MIN; // received when sent: event times are the events' own
        const response = await send(batch([view(T0), bare('web_vital', T0 + 45 * MIN, { name: 'LCP', value: 1234 })]));
        expect(response.statusCode, response.body).toBe(200);
        const row = await only();
        // Like a report, it joins its page's visit: one row, ending at the new event.
        expect(row.sessionEnd).toBe(new Date(T0 + 45 * MIN).toISOString());
        expect((await storedEvents(db)).map((e) => e.event.type).sort()).toEqual(['page_view', 'web_vital']);
        // Types named like what every JavaScript object has are types like any other.
        const named = await send(batch(['constructor', '__proto__', 'toString', 'hasOwnProperty'].map((t, i) => bare(t, T0 + 45 * MIN - i))));
        expect(named.statusCode, named.body).toBe(200);
        expect(named.json().accepted).toBe(4);
      });

      it('an empty batch, automation: false, an unknown navigationType, a seq past 2^53: all accepted', async () => {
        expect((await send(batch([]))).json()).toEqual({ accepted: 0, duplicates: 0, stale: 0 });
        const response = await send(batch([view(T0, { automation: false, navigationType: 'prefetch_2030', seq: 2 ** 60 })]));
        expect(response.statusCode, response.body).toBe(200);
        expect(await only()).toMatchObject({ isBot: false, pageReloaded: false });
      });

      it('an unknown project is a 404 whatever its events hold, before any of it is checked', async () => {
        const deep = (n: number): unknown => (n ? { a: deep(n - 1) } : 1);
        for (const body of [
          { v: 'junk', projectId: 99, events: 'none' },
          { projectId: 99, sentAt: 5, events: [{ nothing: true }], extra: deep(40) },
          { ...batch([view(T0)]), projectId: '99' },
        ]) {
          const response = await send(body);
          expect(response.statusCode, JSON.stringify(body).slice(0, 80)).toBe(404);
          expect(response.json().error).toMatch(/unknown project "?99/);
        }
        expect(await count()).toBe(0);
      });
    });

    it('never refuses a batch for an over-long string: stored cut to LIMITS (a long query string, a long title)', async () => {
      const url = `https://shop.example/landing?state=${'s'.repeat(9000)}&utm_source=mail`;
      const long = (n: number, c = 'x') => c.repeat(n);
      const page = view(T0, {
        url,
        title: long(3000, '🙂'),
        referrer: `https://search.example/${long(9000)}`,
        language: long(100),
        timezoneIANA: long(300),
        utmCampaign: long(600),
        clickIds: { gclid: long(600) },
        navigationType: long(50),
        userAgentData: { brands: [{ brand: long(200), version: long(100) }], mobile: false, platform: long(100) },
      });
      const signup = ev(T0 + 1000, { name: long(300) } as Partial<WireEvent>);
      const timing = leave(T0 + 2000, { domInteractive: 300, domContentLoaded: 400, load: 900 });
      const response = await send(batch([page, signup, timing], { sdk: long(100) }));
      expect(response.statusCode, response.body).toBe(200);
      expect(response.json().accepted).toBe(3);
      const stored = await storedEvents(db);
      const pv = stored.find((e) => e.event.type === 'page_view')!.event as unknown as Record<string, string> & { clickIds: Record<string, string>; userAgentData: { brands: { brand: string; version: string }[]; platform: string } };
      expect(pv.url).toBe(url.slice(0, LIMITS.url));
      expect(pv.title).toHaveLength(LIMITS.title); // 1 024 emoji: cut between characters, never inside one
      expect(pv.title).toBe('🙂'.repeat(LIMITS.title / 2));
      expect([pv.language.length, pv.timezoneIANA.length, pv.utmCampaign.length, pv.navigationType.length]).toEqual([LIMITS.language, LIMITS.timezoneIANA, LIMITS.utm, LIMITS.navigationType]);
      expect(pv.clickIds.gclid).toHaveLength(LIMITS.clickId);
      expect(pv.userAgentData.brands[0].brand).toHaveLength(LIMITS.brand);
      expect(pv.userAgentData.brands[0].version).toHaveLength(LIMITS.brandVersion);
      expect(pv.userAgentData.platform).toHaveLength(LIMITS.platform);
      expect((stored.find((e) => e.event.type === 'track')!.event as { name: string }).name).toHaveLength(LIMITS.name);
      expect(stored[0].request.sdk).toHaveLength(LIMITS.sdk);
      const row = await only();
      expect(row).toMatchObject({ pageViewsCount: 1, initURLPath: '/landing', load: 900, sdkVersion: 'x'.repeat(32) });
      expect(await sessionRows(db)).toEqual(expectedRows(stored));
    });

    describe('no 5xx for a value the schema lets through: clamped, cut or NULL, per column', () => {
      type Case = [what: string, events: () => WireEvent[], headers: Record<string, string>, expected: Partial<SessionRow>];
      const cases: Case[] = [
        ['a User-Agent whose major version is past int32', () => [view(T0)], { 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/99999999999.0 Safari/537.36' }, { browserName: 'Chrome', browserVersion: null }],
        ['a client hint whose major version is past int32', () => [view(T0, { userAgentData: { brands: [{ brand: 'Google Chrome', version: '99999999999' }], mobile: false, platform: 'Linux' } })], {}, { browserName: 'Google Chrome', browserVersion: null }],
        ['userActions summing past int32 over a session', () => [view(T0), leave(T0 + 1, { userActions: INT_MAX }), leave(T0 + 2, { pageId: 'page2', userActions: INT_MAX })], {}, { userActionsCount: INT_MAX }],
        ['activeTime summing past int32, and one past any number', () => [view(T0), leave(T0 + 1, { activeTime: INT_MAX }), leave(T0 + 2, { pageId: 'page2', activeTime: 1e300 })], {}, { activeTime: INT_MAX }],
        ['a timezoneOffset of no time zone', () => [view(T0, { timezoneOffset: 1e300 })], {}, { timezoneOffset: null, localStartTime: null, weekday: null }],
        ['screen sizes and touch points out of smallint, or fractional', () => [view(T0, { screenWidth: 1e9, screenHeight: -40000, maxTouchPoints: 2.5 })], {}, { screenWidth: null, screenHeight: null, maxTouchPoints: null }],
        ['navigation timing past int32 or negative', () => [view(T0), leave(T0 + 1, { domInteractive: -5, domContentLoaded: 1e12, load: 4e9 })], {}, { domInteractive: null, domContentLoaded: INT_MAX, load: INT_MAX }],
        ['negative activeTime and userActions count nothing', () => [view(T0), leave(T0 + 1, { activeTime: -5e9, userActions: -3 })], {}, { activeTime: 0, userActionsCount: 0 }],
        ['a batch sent by a clock 25 years slow: clockSkew clamped', () => [view(946_684_800_000 + 1000)], {}, { clockSkew: INT_MAX }],
        ['a User-Agent with a NUL and a lone surrogate', () => [view(T0)], { 'user-agent': 'Mozilla\u0000/5.0 \ud800 bot' }, { userAgent: 'Mozilla\ufffd/5.0 \ufffd bot', isBot: true }],
        ['a dropped count past any number', () => [view(T0)], {}, { pageViewsCount: 1 }],
      ];
      for (const [what, events, headers, expected] of cases)
        it(`${what}: 200`, async () => {
          const list = events();
          const body = what.startsWith('a batch sent by a clock') ? batch(list, { sentAt: list[0].ts }) : what.startsWith('a dropped') ? batch(list, { dropped: 1e300 }) : batch(list);
          const response = await send(body, headers);
          expect(response.statusCode, response.body).toBe(200);
          expect(await only()).toMatchObject(expected);
          expect(await sessionRows(db)).toEqual(expectedRows(await storedEvents(db)));
        });

      it('sums across requests too: a page report in each of three requests, the row clamped', async () => {
        expect((await send(batch([view(T0)]))).statusCode).toBe(200);
        for (let i = 1; i <= 3; i++) {
          clock = T0 + i * 1000;
          const response = await send(batch([leave(T0 + i * 1000, { pageId: `page${i}`, activeTime: 2e9, userActions: 2e9 })]));
          expect(response.statusCode, response.body).toBe(200);
        }
        expect(await only()).toMatchObject({ activeTime: INT_MAX, userActionsCount: INT_MAX });
        // The visit's timeline reads the same values without overflowing either.
        const visit = await get('/visits/cv1');
        expect(visit.statusCode, visit.body).toBe(200);
        expect(visit.json().pages).toHaveLength(1);
      });

      it('geo headers that percent-decode to NUL, when a proxy is trusted to set them', async () => {
        await start(parseConfig({ ...base, geoHeaders: { country: ['cf-ipcountry'], region: ['x-region-code'], city: ['x-city'] } }));
        const response = await send(batch([view(T0)]), { 'cf-ipcountry': '%00', 'x-region-code': 'a%00b', 'x-city': '%00' });
        expect(response.statusCode, response.body).toBe(200);
        expect(await only()).toMatchObject({ countryCode: '\ufffd', region: 'a\ufffdb', city: '\ufffd' });
      });

      it('a forwarded address that is no address, with trustProxy and whole IPs kept: stored as none', async () => {
        await start(parseConfig({ ...base, projects: [{ ...base.projects[0], fullIp: true }], trustProxy: true }));
        const response = await send(batch([view(T0)]), { 'x-forwarded-for': 'not-an-ip\u0000' });
        expect(response.statusCode, response.body).toBe(200);
        expect((await only()).ipAddress).toBeNull();
        expect((await storedEvents(db))[0].request.ip).toBeUndefined();
        // A whole IPv6 address: the row holds it as the inet column gives it back (found by the fuzz test).
        await send(batch([view(T0, { deviceId: 'v6', sessionId: 'v6s' })]), { 'x-forwarded-for': '::1:9fc8:aed:7e6:7d:2:9d6' });
        const rows = await sessionRows(db);
        expect(rows.find((r) => r.deviceId === 'v6')!.ipAddress).toBe('0:1:9fc8:aed:7e6:7d:2:9d6');
        expect(rows).toEqual(expectedRows(await storedEvents(db)));
      });
    });

    describe('geo headers are believed only when the config names the proxy that sets them', () => {
      const headers = { 'cf-ipcountry': 'KP', 'cf-ipcity': 'Pyongyang', 'x-vercel-ip-country': 'FR', 'x-city': 'Paris' };

      it('by default none is: the columns stay null and nothing of them is stored', async () => {
        expect((await send(batch([view(T0)]), headers)).statusCode).toBe(200);
        expect(await only()).toMatchObject({ countryCode: null, region: null, city: null });
        expect((await storedEvents(db))[0].request.headers).toEqual({});
      });

      it('"cloudflare": its headers only', async () => {
        await start(parseConfig({ ...base, geoHeaders: 'cloudflare' }));
        await send(batch([view(T0)]), headers);
        expect(await only()).toMatchObject({ countryCode: 'KP', city: 'Pyongyang', region: null });
        expect((await storedEvents(db))[0].request.headers).toEqual({ 'cf-ipcountry': 'KP', 'cf-ipcity': 'Pyongyang' });
      });

      it('"vercel": its headers only, URI-decoded', async () => {
        await start(parseConfig({ ...base, geoHeaders: 'vercel' }));
        await send(batch([view(T0)]), { ...headers, 'x-vercel-ip-city': 'S%C3%A3o%20Paulo' });
        expect(await only()).toMatchObject({ countryCode: 'FR', city: 'São Paulo' });
      });

      it('a list of header names of its own (case does not matter)', async () => {
        await start(parseConfig({ ...base, geoHeaders: { country: ['X-Geo-Country'], city: ['x-city'] } }));
        await send(batch([view(T0)]), { ...headers, 'x-geo-country': 'de' });
        const row = await only();
        expect(row).toMatchObject({ countryCode: 'DE', city: 'Paris' });
        const [list] = [await storedEvents(db)];
        expect(row).toEqual(sessionizeDevice(list, { fullIp: true, geoHeaders: { country: ['x-geo-country'], region: [], city: ['x-city'] } }).rows[0]);
      });

      it('a config naming no known proxy is refused on start', () => {
        expect(() => parseConfig({ ...base, geoHeaders: 'akamai' })).toThrow(/geoHeaders/);
      });
    });

    describe('read routes check their parameters: a 400 naming the parameter, never a 500', () => {
      beforeEach(async () => {
        await send(batch([view(T0)]));
      });

      const bad: [query: string, parameter: RegExp][] = [
        ['to=99999999999999999', /^to /],
        ['from=%2B275760-09-13', /^from /],
        ['from=-1', /^from /],
        ['from=1&from=2', /^from is given more than once/],
        ['to=2026-02-30', /^to .*not a date/],
        ['from=2026-11-22T25:00Z', /^from /],
        ['from=yesterday', /^from /],
        ['from=1,2', /^from /],
        ['limit=1e2', /^limit /],
        ['limit=5&limit=6', /^limit is given more than once/],
        ['from=2026-11-23&to=2026-11-22', /^from must not be after to/],
        ['projectId=7&projectId=7', /^projectId is given more than once/],
      ];
      for (const [query, parameter] of bad)
        it(`/sessions?${query}: 400`, async () => {
          const response = await get(`/sessions?${query}`);
          expect(response.statusCode, response.body).toBe(400);
          expect(response.json().error).toMatch(parameter);
        });

      it('what is readable is read as written, never as a day in 2001', async () => {
        const range = async (query: string) => {
          const r = await get(`/sessions?${query}`);
          expect(r.statusCode, r.body).toBe(200);
          return [r.json().from, r.json().to];
        };
        expect(await range('from=1&to=2')).toEqual(['1970-01-01T00:00:00.001Z', '1970-01-01T00:00:00.002Z']);
        expect(await range('from=2026-11-22&to=2026-11-22T10:00:00.5%2B01:00')).toEqual(['2026-11-22T00:00:00.000Z', '2026-11-22T09:00:00.500Z']);
        expect(await range('from=2026-11-22T09:00&to=9999-12-31')).toEqual(['2026-11-22T09:00:00.000Z', '9999-12-31T00:00:00.000Z']);
        expect((await get('/sessions?from=2026-11-22')).json().sessions).toHaveLength(1);
      });

      it('/visits/%00 and a visitId over 64 characters: 400 naming visitId', async () => {
        for (const id of ['%00', 'a%00b', 'x'.repeat(65)]) {
          const response = await get(`/visits/${id}`);
          expect(response.statusCode, response.body).toBe(400);
          expect(response.json().error).toMatch(/visitId/);
        }
        expect((await get('/visits/%ED%A0%80')).statusCode).toBe(400);
        expect((await get('/visits/cv1')).statusCode).toBe(200);
      });
    });

    describe('rate limits say what happened and do not hide health', () => {
      it('the per-IP 429 is a JSON message with Retry-After; /healthz is never limited', async () => {
        await start(parseConfig({ ...base, requestsPerMinutePerIp: 2 }));
        for (let i = 0; i < 2; i++) expect((await send(batch([ev(T0 + i)]), {}, '192.0.2.1')).statusCode).toBe(200);
        const limited = await send(batch([ev(T0 + 9)]), {}, '192.0.2.1');
        expect(limited.statusCode).toBe(429);
        expect(limited.json()).toEqual({ error: expect.stringMatching(/^too many requests from this address; try again in \d+ s$/) });
        expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
        for (let i = 0; i < 5; i++) {
          const health = await app.inject({ method: 'GET', url: '/healthz', remoteAddress: '192.0.2.1' });
          expect(health.statusCode).toBe(200);
        }
      });

      it("stale events cost nothing of the project's event budget", async () => {
        await start(parseConfig({ ...base, projects: [{ ...base.projects[0], eventsPerMinute: 4 }] }));
        const old = T0 - 31 * 24 * 60 * MIN;
        for (let i = 0; i < 10; i++) {
          const response = await send(batch([0, 1, 2, 3].map((k) => ev(old + i * 10 + k)), { sentAt: T0 }));
          expect(response.json()).toEqual({ accepted: 0, duplicates: 0, stale: 4 });
        }
        const fresh = await send(batch([0, 1, 2, 3].map((k) => ev(T0 + k))));
        expect(fresh.statusCode, fresh.body).toBe(200);
        expect(fresh.json().accepted).toBe(4);
        expect((await send(batch([ev(T0 + 5)]))).statusCode).toBe(429);
      });
    });

    describe('GET /visits/:visitId reads the pages the way the rows were built', () => {
      it('two client visits the server merged: the row has 2 page views, the timeline both pages', async () => {
        // The client rotated its visit after 20 minutes (its clock, or lost storage); the server sees one visit.
        await send(batch([view(T0, { visitId: 'cv1' })]));
        clock = T0 + 20 * MIN;
        await send(batch([view(T0 + 20 * MIN, { visitId: 'cv2', pageId: 'page2', url: 'https://shop.example/cart' })]));
        const row = await only();
        expect(row).toMatchObject({ visitId: 'cv1', pageViewsCount: 2 });
        const visit = (await get('/visits/cv1')).json();
        expect(visit.pages.map((p: { pageId: string; sessionId: string }) => [p.pageId, p.sessionId])).toEqual([
          ['page1', 'cs1'],
          ['page2', 'cs1'],
        ]);
        // cv2 names no row: the server's grouping wins.
        expect((await get('/visits/cv2')).statusCode).toBe(404);
      });

      it('a client visit the server split (an hour of silence): each row with its own pages, each page once', async () => {
        await send(batch([view(T0), leave(T0 + 1000, { activeTime: 900 })]));
        clock = T0 + 60 * MIN;
        await send(batch([view(T0 + 60 * MIN, { pageId: 'page2', sessionId: 'cs1' }), leave(T0 + 60 * MIN + 500, { pageId: 'page2', activeTime: 400 })]));
        const rows = await sessionRows(db);
        expect(rows.map((r) => [r.visitId, r.pageViewsCount])).toEqual([
          ['cv1', 1],
          ['cv1', 1],
        ]);
        const visit = (await get('/visits/cv1')).json();
        expect(visit.sessions).toHaveLength(2);
        expect(visit.pages.map((p: { pageId: string; activeTime: number }) => [p.pageId, p.activeTime])).toEqual([
          ['page1', 900],
          ['page2', 400],
        ]);
      });
    });

    describe("the SDK's dropped count: a counter per project and day, read with the project's token", () => {
      it('counts each stored report once, per UTC day, and each project reads its own', async () => {
        clock = Date.UTC(2026, 10, 22, 23, 59);
        const first = batch([ev(clock)], { dropped: 5 });
        expect((await send(first)).statusCode).toBe(200);
        // The same batch again (a retry): its events are duplicates, its report was counted.
        expect((await send(first)).json()).toMatchObject({ duplicates: 1 });
        expect((await send(batch([ev(clock + 1)], { dropped: 2.7 }))).statusCode).toBe(200);
        clock = Date.UTC(2026, 10, 23, 0, 1);
        await send(batch([ev(clock)], { dropped: 3 }));
        await send(batch([ev(clock + 1)], { dropped: -4 }));
        await send({ ...batch([ev(clock + 2, { deviceId: 'other' })], { dropped: 100 }), projectId: 8 });

        const read = await get('/dropped?from=2026-11-01');
        expect(read.statusCode, read.body).toBe(200);
        expect(read.json()).toEqual({ projectId: 7, from: '2026-11-01', to: '2026-11-23', days: [{ day: '2026-11-22', dropped: 7 }, { day: '2026-11-23', dropped: 3 }], total: 10 });
        expect((await get('/dropped?from=2026-11-01', OTHER)).json().total).toBe(100);
        expect((await get('/dropped?from=2026-11-23&to=2026-11-23')).json().days).toEqual([{ day: '2026-11-23', dropped: 3 }]);
        expect((await app.inject({ method: 'GET', url: '/dropped' })).statusCode).toBe(401);
        for (const query of ['from=2026-02-30', 'from=1&from=2', 'to=yesterday', 'from=2026-11-23&to=2026-11-22']) {
          const response = await get(`/dropped?${query}`);
          expect(response.statusCode, query).toBe(400);
          expect(response.json().error).toMatch(/^(from|to) /);
        }
      });

      it('a counter saturates instead of overflowing', async () => {
        for (let i = 0; i < 3; i++) await send(batch([ev(T0 + i)], { dropped: 1e300 }));
        expect((await get('/dropped')).json().total).toBe(3 * INT_MAX);
        await db.query(`UPDATE atomic.dropped SET "dropped" = 9223372036854775000`);
        expect((await send(batch([ev(T0 + 9)], { dropped: 1e300 }))).statusCode).toBe(200);
        const { rows } = await db.query<{ n: string }>(`SELECT "dropped"::text AS n FROM atomic.dropped`);
        expect(rows[0].n).toBe('9223372036854775807');
      });
    });
  });
}
