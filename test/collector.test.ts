// @vitest-environment node
// The collector over HTTP (fastify's inject: the real routes, parsers, hooks and
// plugins, without a socket), against PGlite and against a real PostgreSQL.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import type { WireEvent } from '../src/protocol';
import { createCollector, hashToken, migrate, parseConfig, type CollectorConfig, type Database } from '../src/server';
import { LATEST_VERSION, READER_ROLE } from '../src/server/collector/migrations';
import { WRITTEN } from '../src/server/collector/migrations';
import { backends, expectedRows, sessionRows, storedEvents } from './support/databases';
import { ev, MIN, T0, UA } from './sessionizer.helpers';

const TOKEN_A = 'token-for-project-7';
const TOKEN_B = 'token-for-project-8';
const CONFIG: CollectorConfig = parseConfig({
  projects: [
    { id: 7, name: 'shop', origins: ['https://shop.example'], readTokens: [hashToken(TOKEN_A)] },
    { id: 8, name: 'blog', origins: ['*'], readTokens: [hashToken(TOKEN_B)], fullIp: true },
  ],
});

const view = (at: number, over: Record<string, unknown> = {}) =>
  ev(at, { type: 'page_view', url: 'https://shop.example/?utm_source=news', title: 'Home', navigationType: 'navigate', ...over } as Partial<WireEvent>);

for (const backend of backends()) {
  describe(`collector on ${backend.name}`, () => {
    let db: Database;
    let app: FastifyInstance;
    let clock = T0;

    const start = async (config: CollectorConfig = CONFIG) => {
      await app?.close();
      ({ app } = await createCollector({ db, config, now: () => clock }));
    };
    const send = (body: unknown, { type = 'text/plain;charset=UTF-8', origin, ip = '203.0.113.77' }: { type?: string; origin?: string; ip?: string } = {}) =>
      app.inject({
        method: 'POST',
        url: '/collect',
        headers: { 'content-type': type, 'user-agent': UA, ...(origin ? { origin } : {}) },
        remoteAddress: ip,
        payload: typeof body === 'string' ? body : JSON.stringify(body),
      });
    const batch = (events: WireEvent[], projectId: number | string = 7, sentAt = Math.max(...events.map((e) => e.ts))) => ({ v: 1, projectId, sentAt, sdk: '0.1.0', events });
    const count = async () => Number((await db.query<{ n: string }>('SELECT count(*)::int AS n FROM atomic.events')).rows[0].n);
    const sessions = (token: string, query = '') => app.inject({ method: 'GET', url: `/sessions?from=0${query}`, headers: { authorization: `Bearer ${token}` } });

    beforeAll(async () => {
      db = await backend.open();
    }, 60_000);
    afterAll(async () => {
      await app?.close();
      await db?.close();
      await backend.stop();
    });
    beforeEach(async () => {
      await db.exec('TRUNCATE atomic.events, atomic.session');
      clock = T0;
      await start();
    });

    it('stores a text/plain beacon and an application/json batch, and keeps their sessions current', async () => {
      const first = await send(batch([view(T0), ev(T0 + 1000)]));
      expect(first.statusCode).toBe(200);
      expect(first.json()).toEqual({ accepted: 2, duplicates: 0, stale: 0 });
      clock = T0 + 5 * MIN;
      const second = await send(batch([ev(T0 + 5 * MIN, { tabId: 'tab2', sessionId: 'cs2' })]), { type: 'application/json' });
      expect(second.statusCode).toBe(200);
      expect(await count()).toBe(3);
      const rows = await sessionRows(db);
      expect(rows).toEqual(expectedRows(await storedEvents(db)));
      expect(rows.map((r) => [r.tabId, r.visitId, r.pageViewsCount])).toEqual([
        ['tab1', 'cv1', 1],
        ['tab2', 'cv1', 0],
      ]);
      expect(rows[0]).toMatchObject({ projectId: 7, utmSource: ['news'], ipAddress: '203.0.113.0', browserName: 'Chrome', initURLPath: '/' });
    });

    it('expands IDs that travel once at the top of the batch: stored and sessionized as if on every event', async () => {
      const events = [view(T0), ev(T0 + 1000, { tabId: 'tab2', sessionId: 'cs2' })];
      const hoisted = {
        ...batch(events.map(({ deviceId: _d, anonymousId: _a, visitId: _v, ...rest }) => rest as WireEvent)),
        deviceId: events[0].deviceId,
        anonymousId: events[0].anonymousId,
        visitId: events[0].visitId,
        sessionId: 'ignored: each event has its own',
      };
      expect((await send(hoisted)).json()).toEqual({ accepted: 2, duplicates: 0, stale: 0 });
      const stored = await storedEvents(db);
      expect(stored.map((e) => e.event).sort((a, b) => a.ts - b.ts)).toEqual(events);
      expect(await sessionRows(db)).toEqual(expectedRows(stored));
      const { deviceId: _gone, ...noDevice } = events[0];
      const refused = await send(batch([noDevice as WireEvent]));
      expect(refused.statusCode).toBe(400);
      expect(refused.json().error).toMatch(/events\/0\/deviceId: required/);
    });

    it('acknowledges a retried beacon and ignores its copies: stored once, sessions unchanged', async () => {
      const body = batch([view(T0), ev(T0 + 500)]);
      expect((await send(body)).json()).toMatchObject({ accepted: 2, duplicates: 0 });
      const before = await sessionRows(db);
      clock = T0 + 9000;
      const again = await send({ ...body, sentAt: T0 + 9000 });
      expect(again.statusCode).toBe(200);
      expect(again.json()).toMatchObject({ accepted: 0, duplicates: 2 });
      expect(await count()).toBe(2);
      expect(await sessionRows(db)).toEqual(before);
    });

    it('writes concurrent requests in groups, each answered after its commit, rows equal to a batch run', async () => {
      const answers = await Promise.all(
        Array.from({ length: 60 }, (_, i) => {
          const ids = { deviceId: `d${i % 7}`, tabId: `d${i % 7}t${i % 3}`, sessionId: `d${i % 7}t${i % 3}` };
          return send(batch([view(T0 + i * 1000, ids), ev(T0 + i * 1000 + 10, ids)]));
        }),
      );
      expect(answers.map((a) => a.statusCode)).toEqual(Array(60).fill(200));
      expect(await count()).toBe(120);
      expect(await sessionRows(db)).toEqual(expectedRows(await storedEvents(db)));
    });

    it('a late event that bridges two visits merges their rows (the later one is deleted)', async () => {
      await send(batch([view(T0)]));
      clock = T0 + 40 * MIN;
      await send(batch([view(T0 + 40 * MIN, { visitId: 'cv2' })]));
      expect((await sessionRows(db)).map((r) => r.visitId)).toEqual(['cv1', 'cv2']);
      clock = T0 + 41 * MIN;
      // Queued offline, sent late: at T0 + 20 min by its own clock, which joins the two.
      await send(batch([ev(T0 + 20 * MIN)], 7, T0 + 41 * MIN));
      const rows = await sessionRows(db);
      expect(rows.map((r) => r.visitId)).toEqual(['cv1']);
      expect(rows).toEqual(expectedRows(await storedEvents(db)));
    });

    it('reloads a device it forgot from the stored events: same rows as if it had remembered', async () => {
      await start(parseConfig({ ...CONFIG, horizon: 0 }));
      for (let i = 0; i < 30; i++) {
        clock = T0 + i * 7 * MIN;
        // 1 000 requests before the engine forgets idle devices: make it forget often by sending them.
        const response = await send(batch([ev(T0 + i * 7 * MIN, { deviceId: `d${i % 3}`, tabId: `t${i % 2}` })]));
        expect(response.statusCode).toBe(200);
      }
      expect(await sessionRows(db)).toEqual(expectedRows(await storedEvents(db)));
    });

    describe('refuses bad input with a clear 4xx and stores nothing of it', () => {
      const good = () => batch([view(T0)]);
      const deep = (n: number): unknown => (n ? { a: deep(n - 1) } : 1);
      const cases: [string, () => unknown, number, RegExp, string?][] = [
        ['malformed JSON', () => '{"v":1,"events":[', 400, /JSON/i],
        ['not an object', () => '[1,2,3]', 400, /batch/],
        ['a wrong version', () => ({ ...good(), v: 2 }), 400, /\/v/],
        ['wrong types', () => ({ ...good(), sentAt: String(T0) }), 400, /\/sentAt/],
        ['a string where a number goes, not coerced', () => batch([{ ...view(T0), seq: '7' } as unknown as WireEvent]), 400, /\/events\/0\/seq/],
        ['a missing ID', () => batch([{ ...view(T0), tabId: undefined } as unknown as WireEvent]), 400, /\/events\/0\/tabId/],
        ['an empty ID', () => batch([view(T0, { pageId: '' })]), 400, /\/events\/0\/pageId/],
        ['an event type longer than 16 characters', () => batch([ev(T0, { type: 'x'.repeat(17) } as unknown as Partial<WireEvent>)]), 400, /\/events\/0\/type/],
        ['an ID longer than 64 characters', () => batch([view(T0, { pageId: 'p'.repeat(65) })]), 400, /\/events\/0\/pageId/],
        ['too many events', () => batch(Array.from({ length: 251 }, (_, i) => ({ ...ev(T0), id: `${i}`, deviceId: 'd', anonymousId: 'a', visitId: 'v', sessionId: 's', tabId: 't', pageId: 'p', seq: 0 }))), 400, /\/events/],
        ['a timestamp in 1970', () => batch([ev(5)], 7, T0), 400, /\/events\/0\/ts/],
        ['a timestamp in 2200', () => batch([ev(T0)], 7, 7_258_118_400_000), 400, /\/sentAt/],
        ['deep nesting', () => batch([ev(T0, { properties: deep(40) } as Partial<WireEvent>)]), 400, /deeper than 16/],
        ['a __proto__ key', () => `{"v":1,"projectId":7,"sentAt":${T0},"events":[],"__proto__":{"x":1}}`, 400, /proto/i],
        ['no projectId', () => ({ ...good(), projectId: undefined }), 400, /projectId is required/],
        ['an unknown project', () => batch([view(T0)], 99), 404, /unknown project 99/],
        ['a project named by a non-number', () => batch([view(T0)], 'shop'), 404, /unknown project "shop"/],
        ['an origin the project does not allow', () => good(), 403, /origin https:\/\/evil\.example/, 'https://evil.example'],
      ];
      for (const [what, body, status, message, origin] of cases)
        it(`${what}: ${status}`, async () => {
          const response = await send(body(), { origin });
          expect(response.statusCode).toBe(status);
          expect(response.json().error).toMatch(message);
          expect(await count()).toBe(0);
        });

      it('over 64 KiB: 413', async () => {
        const big = batch([ev(T0, { properties: { blob: 'x'.repeat(70_000) } } as Partial<WireEvent>)]);
        const response = await send(big);
        expect(response.statusCode).toBe(413);
        expect(await count()).toBe(0);
      });

      it('a content type that is not JSON or text: 415', async () => {
        const response = await send(good(), { type: 'application/x-www-form-urlencoded' });
        expect(response.statusCode).toBe(415);
        expect(await count()).toBe(0);
      });
    });

    it('stores strings built to hurt as text: SQL meta-characters verbatim, NUL and lone surrogates as U+FFFD', async () => {
      const nasty = `'); DROP TABLE atomic.session; -- \\ " $1 %s`;
      const huge = '🙂'.repeat(1000);
      const response = await send(batch([view(T0, { title: '\ufeff' + nasty + '\u0000' + '\ud800' + huge, url: `https://shop.example/?q=${encodeURIComponent(nasty)}` }), ev(T0 + 1, { name: nasty, properties: { [nasty]: '\u0000', huge } } as Partial<WireEvent>)]));
      expect(response.statusCode).toBe(200);
      const [row] = await sessionRows(db);
      // Cut to varchar(128) in code points: no emoji is split in half.
      expect(row.initTitle).toBe(Array.from(nasty + '\ufffd\ufffd' + huge).slice(0, 128).join(''));
      expect(row.initURLSearchParams).toEqual({ q: nasty });
      const stored = await storedEvents(db);
      expect(stored.find((e) => e.event.type === 'track')!.event).toMatchObject({ name: nasty, properties: { [nasty]: '\ufffd', huge } });
      expect(await sessionRows(db)).toEqual(expectedRows(stored));
    });

    it('a NUL only percent-decoding reveals (query parameters, UTM, referrer) is stored as U+FFFD too (found by the fuzz test)', async () => {
      const url = 'https://shop.example/?q=a%00b&utm_source=news%00&gclid=%00';
      const response = await send(batch([view(T0, { url, referrer: 'https://search.example/?k=%00' })]));
      expect(response.statusCode).toBe(200);
      const [row] = await sessionRows(db);
      expect(row).toMatchObject({
        initURLSearchParams: { q: 'a\ufffdb', utm_source: 'news\ufffd', gclid: '\ufffd' },
        utmSource: ['news\ufffd'],
        clickIds: { gclid: '\ufffd' },
        referrerURLSearchParams: { k: '\ufffd' },
      });
      expect(await sessionRows(db)).toEqual(expectedRows(await storedEvents(db)));
    });

    it('clamps an event stamped after its batch was sent, and drops events over 30 days old by their own clock', async () => {
      const response = await send(batch([view(T0 + 5 * MIN), ev(T0 - 31 * 24 * 60 * MIN)], 7, T0));
      expect(response.json()).toEqual({ accepted: 1, duplicates: 0, stale: 1 });
      const [stored] = await storedEvents(db);
      expect(stored.event.ts).toBe(T0);
      expect(stored.time).toBe(clock);
    });

    it('keeps IP addresses truncated unless the project opts in, and the User-Agent and referrer within their columns', async () => {
      const long = `https://search.example/${'p'.repeat(400)}?q=shoes`;
      await send(batch([view(T0, { referrer: long })]), { ip: '198.51.100.23' });
      await send(batch([view(T0, { deviceId: 'd8' })], 8), { ip: '198.51.100.23' });
      const stored = await storedEvents(db);
      const a = stored.find((e) => e.projectId === 7)!;
      expect(a.request.ip).toBe('198.51.100.0');
      expect(stored.find((e) => e.projectId === 8)!.request.ip).toBe('198.51.100.23');
      expect((a.event as { referrer: string }).referrer).toBe(`https://search.example/${'p'.repeat(254)}?q=shoes`);
      expect(JSON.stringify(await db.query('SELECT "request" FROM atomic.events'))).not.toContain('198.51.100.23"},{');
    });

    it("a client reusing another device's sessionId and start can neither overwrite nor delete that device's row", async () => {
      await send(batch([view(T0, { deviceId: 'victim', sessionId: 'shared', tabId: 'tv' })]));
      const before = await sessionRows(db);
      // Same sessionId, same derived start (same ms), another device: the primary key collides.
      await send(batch([view(T0, { deviceId: 'forger', sessionId: 'shared', tabId: 'tf', title: 'forged' })]));
      expect(await sessionRows(db)).toEqual(before);
      // The forger's session moves (a late event before it): the engine deletes its old key, which is the victim's row.
      clock = T0 + 2 * MIN;
      await send(batch([ev(T0 - MIN, { deviceId: 'forger', sessionId: 'shared', tabId: 'tf' })], 7, T0 + 2 * MIN));
      const after = await sessionRows(db);
      expect(after.filter((r) => r.deviceId === 'victim')).toEqual(before);
      expect(after.filter((r) => r.deviceId === 'forger').map((r) => r.sessionStart)).toEqual([new Date(T0 - MIN).toISOString()]);
    });

    describe('reading sessions', () => {
      beforeEach(async () => {
        await send(batch([view(T0)]));
        await send(batch([view(T0, { deviceId: 'other' })], 8));
      });

      it('needs a bearer token: none or a wrong one is 401, another project is 403', async () => {
        expect((await app.inject({ method: 'GET', url: '/sessions' })).statusCode).toBe(401);
        const wrong = await sessions('not-a-token');
        expect(wrong.statusCode).toBe(401);
        expect(wrong.headers['www-authenticate']).toMatch(/Bearer/);
        expect((await sessions(TOKEN_A, '&projectId=8')).statusCode).toBe(403);
      });

      it("project A's token reads A's rows only, in a time range", async () => {
        const a = (await sessions(TOKEN_A)).json();
        expect(a.sessions.map((r: { projectId: number }) => r.projectId)).toEqual([7]);
        expect((await sessions(TOKEN_B)).json().sessions.map((r: { deviceId: string }) => r.deviceId)).toEqual(['other']);
        expect((await sessions(TOKEN_A, `&to=${T0}`)).json().sessions).toEqual([]);
        expect((await sessions(TOKEN_A, '&limit=0')).statusCode).toBe(400);
        expect((await sessions(TOKEN_A, '&from=yesterday')).statusCode).toBe(400);
      });

      it("GET /visits/:visitId: the visit's rows and its pages with their activeTime, of the token's project only", async () => {
        const ping = ev(T0 + 2000, { type: 'page_ping', activeTime: 1200, userActions: 1 } as Partial<WireEvent>);
        const leave = ev(T0 + 5000, { type: 'page_leave', activeTime: 3400, userActions: 2 } as Partial<WireEvent>);
        const second = view(T0 + 6000, { url: 'https://shop.example/cart', title: 'Cart', tabId: 'tab2', sessionId: 'cs2', pageId: 'page2' });
        clock = T0 + 6000; // received when sent: server times equal the events' own
        expect((await send(batch([ping, leave, second]))).statusCode).toBe(200);
        const visit = (token: string, id = 'cv1') => app.inject({ method: 'GET', url: `/visits/${id}`, headers: { authorization: `Bearer ${token}` } });

        const a = (await visit(TOKEN_A)).json();
        expect(a.sessions.map((r: { tabId: string; projectId: number }) => [r.projectId, r.tabId])).toEqual([
          [7, 'tab1'],
          [7, 'tab2'],
        ]);
        expect(a.pages).toEqual([
          { pageId: 'page1', tabId: 'tab1', sessionId: 'cs1', url: 'https://shop.example/?utm_source=news', title: 'Home', navigationType: 'navigate', start: new Date(T0).toISOString(), end: new Date(T0 + 5000).toISOString(), activeTime: 3400 },
          { pageId: 'page2', tabId: 'tab2', sessionId: 'cs2', url: 'https://shop.example/cart', title: 'Cart', navigationType: 'navigate', start: new Date(T0 + 6000).toISOString(), end: new Date(T0 + 6000).toISOString(), activeTime: null },
        ]);
        // Project 8 has a visit with the same visitId: its token reads that one, never project 7's.
        const b = (await visit(TOKEN_B)).json();
        expect(b.sessions.map((r: { deviceId: string }) => r.deviceId)).toEqual(['other']);
        expect(b.pages.map((p: { pageId: string }) => p.pageId)).toEqual(['page1']);
        expect((await visit(TOKEN_A, 'no-such-visit')).statusCode).toBe(404);
        expect((await visit(TOKEN_A, 'x'.repeat(65))).statusCode).toBe(400);
        expect((await visit('not-a-token')).statusCode).toBe(401);
      });

      it('the row-level security policy scopes reads through the table itself', async () => {
        const read = (project: string | undefined) =>
          db.transaction(async (tx) => {
            await tx.query(`SET LOCAL ROLE ${READER_ROLE}`);
            if (project !== undefined) await tx.query(`SELECT set_config('app.project_id', $1, true)`, [project]);
            return (await tx.query<{ projectId: number }>('SELECT "projectId" FROM atomic.session')).rows.map((r) => r.projectId);
          });
        expect(await read('7')).toEqual([7]);
        expect(await read('8')).toEqual([8]);
        expect(await read(undefined)).toEqual([]);
        const events = await db.transaction(async (tx) => {
          await tx.query(`SET LOCAL ROLE ${READER_ROLE}`);
          await tx.query(`SELECT set_config('app.project_id', '7', true)`);
          return (await tx.query<{ n: number }>('SELECT count(*)::int AS n FROM atomic.events WHERE "projectId" = 8')).rows[0].n;
        });
        expect(events).toBe(0);
      });
    });

    it('limits requests per IP address and events per project, with 429 and Retry-After', async () => {
      await start(parseConfig({ ...CONFIG, requestsPerMinutePerIp: 3 }));
      for (let i = 0; i < 3; i++) expect((await send(batch([ev(T0 + i)]), { ip: '192.0.2.1' })).statusCode).toBe(200);
      const limited = await send(batch([ev(T0 + 9)]), { ip: '192.0.2.1' });
      expect(limited.statusCode).toBe(429);
      expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
      expect((await send(batch([ev(T0 + 10)]), { ip: '192.0.2.2' })).statusCode).toBe(200);

      await start(parseConfig({ ...CONFIG, projects: [{ ...CONFIG.projects[0], eventsPerMinute: 4 }] }));
      expect((await send(batch([ev(T0 + 20), ev(T0 + 21), ev(T0 + 22)]))).statusCode).toBe(200);
      const over = await send(batch([ev(T0 + 23), ev(T0 + 24)]));
      expect(over.statusCode).toBe(429);
      expect(over.headers['retry-after']).toBe('15');
      clock += 15_000;
      expect((await send(batch([ev(T0 + 25), ev(T0 + 26)]))).statusCode).toBe(200);
    });

    it('CORS: /collect answers any origin (so a refused page reads its 403), /sessions only the configured ones', async () => {
      const ok = await send(batch([view(T0)]), { origin: 'https://shop.example' });
      expect(ok.headers['access-control-allow-origin']).toBe('https://shop.example');
      expect(ok.headers['access-control-expose-headers']).toMatch(/retry-after/i);
      const refused = await send(batch([view(T0)]), { origin: 'https://evil.example' });
      expect(refused.statusCode).toBe(403);
      expect(refused.headers['access-control-allow-origin']).toBe('https://evil.example');
      await start(parseConfig({ projects: [CONFIG.projects[0]] }));
      const preflight = (origin: string) =>
        app.inject({ method: 'OPTIONS', url: '/sessions', headers: { origin, 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization' } });
      expect((await preflight('https://shop.example')).headers['access-control-allow-origin']).toBe('https://shop.example');
      expect((await preflight('https://evil.example')).headers['access-control-allow-origin']).toBeUndefined();
    });

    it('healthz reports the database', async () => {
      const response = await app.inject({ method: 'GET', url: '/healthz' });
      expect(response.statusCode).toBe(200);
      expect(response.json()).toMatchObject({ ok: true, database: backend.name });
    });

    it('migrations run once: a second run applies nothing', async () => {
      expect(await migrate(db)).toEqual([]);
      expect((await db.query<{ version: number }>('SELECT version FROM atomic.migrations ORDER BY version')).rows.map((r) => r.version)).toEqual([1, 2, 3, 4, 5]);
      expect(LATEST_VERSION).toBe(5);
    });
  });
}

describe('the session table and the sessionizer agree', () => {
  it('every column the sessionizer fills is written, and nothing else', async () => {
    const { sessionize } = await import('../src/server/sessionizer');
    const [row] = sessionize([{ receivedAt: T0, body: { v: 1, projectId: 1, sentAt: T0, events: [ev(T0)] } }]);
    expect([...WRITTEN].sort()).toEqual(Object.keys(row).sort());
  });
});
