// @vitest-environment node
// Cookieless batches at the collector (docs/collector.md, "Cookieless mode";
// docs/privacy.md), over HTTP through fastify's inject, on PGlite and PostgreSQL,
// with a fake clock: the derived device under the database's salt, one row per
// visit, no IP stored anywhere or logged, the midnight rule and the salt's
// deletion, and the same rows as `sessionize` over the same requests.
import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { VisitPage } from '../src/protocol';
import { createCollector, hashToken, parseConfig, sessionize, type Database, type ReceivedRequest, type SessionRow } from '../src/server';
import { CookielessDevices } from '../src/server/collector/cookieless';
import { Salts } from '../src/server/collector/salts';
import { cookielessDeviceId } from '../src/server/sessionizer/cookieless';
import { backends, expectedRows, sessionRows, storedEvents } from './support/databases';
import { FIREFOX, IP, MIDNIGHT, pageLoad, pageLoads } from './cookieless.helpers';
import { MIN, UA } from './sessionizer.helpers';

const H = 60 * MIN;
const TOKEN = 'cookieless-reader';
const CONFIG = parseConfig({ projects: [{ id: 7, name: 'shop', origins: ['*'], readTokens: [hashToken(TOKEN)] }] });

for (const backend of backends()) {
  describe(`cookieless batches at the collector on ${backend.name}`, () => {
    let db: Database;
    let app: FastifyInstance;
    let clock = MIDNIGHT + 9 * H;
    let logs = '';
    /** Every request the collector was sent, as `sessionize` reads them (its log). */
    let log: ReceivedRequest[] = [];

    const start = async () => {
      await app?.close();
      const stream = new Writable({ write: (chunk, _enc, done) => ((logs += chunk), done()) });
      // The logger as `serve` configures it, at its most talkative level.
      ({ app } = await createCollector({ db, config: CONFIG, now: () => clock, logger: { level: 'trace', stream } }));
    };
    /** Sends a request at its receivedAt, from its IP with its User-Agent. */
    const send = async (request: ReceivedRequest) => {
      clock = request.receivedAt;
      const response = await app.inject({
        method: 'POST',
        url: '/collect',
        headers: { 'content-type': 'text/plain;charset=UTF-8', ...(request.userAgent ? { 'user-agent': request.userAgent } : {}) },
        remoteAddress: request.ip,
        payload: JSON.stringify(request.body),
      });
      if (response.statusCode === 200) log.push(request);
      return response;
    };
    const sendAll = async (requests: ReceivedRequest[]) => {
      for (const r of requests) expect((await send(r)).statusCode).toBe(200);
    };
    const salts = async () =>
      Object.fromEntries(
        (await db.query<{ day: string; salt: string }>(`SELECT to_char("day", 'YYYY-MM-DD') AS "day", encode("salt", 'hex') AS "salt" FROM atomic.salts`)).rows.map((r) => [r.day, r.salt]),
      );
    const byStart = (rows: SessionRow[]) => [...rows].sort((a, b) => a.sessionStart.localeCompare(b.sessionStart) || a.deviceId!.localeCompare(b.deviceId!));
    /** The rows must be a batch run over the stored events, and what `sessionize` gives over the requests with the days' salts. */
    const expectConsistent = async () => {
      const rows = await sessionRows(db);
      expect(rows).toEqual(expectedRows(await storedEvents(db)));
      expect(byStart(rows)).toEqual(byStart(sessionize(log, { salts: await salts() })));
      return byStart(rows);
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
      await db.exec('TRUNCATE atomic.events, atomic.session; DELETE FROM atomic.salts');
      clock = MIDNIGHT + 9 * H;
      logs = '';
      log = [];
      await start();
    });

    it('one visit of three page loads is one row with three page views, tagged cookieless, with no IP stored or logged', async () => {
      await sendAll(pageLoads(MIDNIGHT + 9 * H, 3));
      const rows = await expectConsistent();
      expect(rows).toHaveLength(1);
      const [row] = rows;
      const [{ salt }] = (await db.query<{ salt: string }>(`SELECT encode("salt", 'hex') AS "salt" FROM atomic.salts WHERE "day" = '2026-12-02'`)).rows;
      const deviceId = cookielessDeviceId(Buffer.from(salt, 'hex'), 7, IP, UA);
      expect(row).toMatchObject({ deviceId, anonymousId: deviceId, tabId: deviceId, identityId: null, tags: ['cookieless'], ipAddress: null, pageViewsCount: 3, activeTime: 12_000, browserName: 'Chrome', screenWidth: 1280 });
      expect(row.visitId).toBe(row.sessionId);

      // No IP anywhere: not in the row, not in the stored events or their requests, not in the log.
      expect((await db.query(`SELECT 1 FROM atomic.events WHERE "request" ? 'ip'`)).rows).toEqual([]);
      expect((await db.query(`SELECT 1 FROM atomic.session WHERE "ipAddress" IS NOT NULL`)).rows).toEqual([]);
      const stored = await db.query<{ row: string }>(`SELECT row_to_json(e)::text AS row FROM atomic.events e UNION ALL SELECT row_to_json(s)::text FROM atomic.session s`);
      expect(stored.rows).toHaveLength(7);
      for (const { row: text } of stored.rows) expect(text).not.toContain('198.51.100');
      expect((await db.query<{ request: Record<string, unknown> }>(`SELECT "request" FROM atomic.events LIMIT 1`)).rows[0].request).toMatchObject({ cookieless: true, userAgent: UA });
      await app.close();
      expect(logs).toContain('/collect'); // the requests were logged...
      expect(logs).not.toContain('198.51.100'); // ...without their address
      expect(logs).not.toContain('remoteAddress');
    });

    it('another User-Agent is another device, and so is another address', async () => {
      const at = MIDNIGHT + 9 * H;
      await sendAll([pageLoad(at), pageLoad(at + MIN, { userAgent: FIREFOX }), pageLoad(at + 2 * MIN, { ip: '198.51.100.8' }), pageLoad(at + 3 * MIN)]);
      const rows = await expectConsistent();
      expect(rows.map((r) => [r.browserName, r.pageViewsCount])).toEqual([
        ['Chrome', 2],
        ['Firefox', 1],
        ['Chrome', 1],
      ]);
      expect(new Set(rows.map((r) => r.deviceId)).size).toBe(3);
    });

    it('reads show cookieless sessions like any other: /sessions, and /visits with the visit’s pages in one tab', async () => {
      await sendAll(pageLoads(MIDNIGHT + 9 * H, 3, 2 * MIN));
      const sessions = await app.inject({ method: 'GET', url: '/sessions?from=0', headers: { authorization: `Bearer ${TOKEN}` } });
      expect(sessions.statusCode).toBe(200);
      const [row] = sessions.json().sessions as SessionRow[];
      expect(row).toMatchObject({ tags: ['cookieless'], pageViewsCount: 3, ipAddress: null });
      const visit = await app.inject({ method: 'GET', url: `/visits/${row.visitId}`, headers: { authorization: `Bearer ${TOKEN}` } });
      expect(visit.statusCode).toBe(200);
      const { pages } = visit.json() as { pages: VisitPage[] };
      expect(pages.map((p) => [p.tabId, p.sessionId, p.activeTime])).toEqual([
        [row.tabId, row.sessionId, 4000],
        [row.tabId, row.sessionId, 4000],
        [row.tabId, row.sessionId, 4000],
      ]);
    });

    it('refuses a cookieless batch that carries an ID the collector derives, or lacks tabId: 400, nothing stored', async () => {
      for (const field of ['deviceId', 'anonymousId', 'identityId', 'visitId', 'sessionId']) {
        const atTop = pageLoad(MIDNIGHT + 9 * H);
        (atTop.body as unknown as Record<string, unknown>)[field] = 'x';
        const top = await send(atTop);
        expect(top.statusCode).toBe(400);
        expect(top.json().error).toBe(`not a version 1 batch: /${field}: a cookieless batch carries no ${field} (the collector derives the device)`);
        const onEvent = pageLoad(MIDNIGHT + 9 * H);
        (onEvent.body.events[1] as unknown as Record<string, unknown>)[field] = 'x';
        expect((await send(onEvent)).json().error).toBe(`not a version 1 batch: /events/1/${field}: a cookieless batch carries no ${field} (the collector derives the device)`);
      }
      const untabbed = pageLoad(MIDNIGHT + 9 * H);
      delete untabbed.body.tabId;
      const refused = await send(untabbed);
      expect(refused.statusCode).toBe(400);
      expect(refused.json().error).toBe('not a version 1 batch: /events/0/tabId: required, on the event or once on the batch');
      expect((await db.query('SELECT 1 FROM atomic.events')).rows).toEqual([]);
      // `"cookieless": false` is an ordinary batch, which needs every ID.
      const plain = pageLoad(MIDNIGHT + 9 * H);
      (plain.body as unknown as Record<string, unknown>).cookieless = false;
      expect((await send(plain)).json().error).toBe('not a version 1 batch: /events/0/deviceId: required, on the event or once on the batch');
    });

    it('a visit across midnight is one row; a salt is deleted two hours after its day, after which its devices end', async () => {
      // 23:50, 00:15, 00:40, ..., 02:20: each page load 25 minutes after the one before.
      await sendAll(pageLoads(MIDNIGHT - 10 * MIN, 7, 25 * MIN));
      const daySalts = await salts();
      expect(Object.keys(daySalts).sort()).toEqual(['2026-12-01', '2026-12-02']);
      const rows = await expectConsistent();
      const previous = cookielessDeviceId(Buffer.from(daySalts['2026-12-01'], 'hex'), 7, IP, UA);
      const current = cookielessDeviceId(Buffer.from(daySalts['2026-12-02'], 'hex'), 7, IP, UA);
      // The visit went on with the previous day's device until 02:00; the page load at 02:20 is the new day's.
      expect(rows.map((r) => [r.deviceId, r.pageViewsCount])).toEqual([
        [previous, 6],
        [current, 1],
      ]);

      // The collector deleted the previous day's salt within a minute of 02:00 (it sweeps every minute; a
      // collector started later, on start): no device of that day can be derived again.
      clock = MIDNIGHT + 2 * H + 30 * MIN;
      await start();
      expect(Object.keys(await salts())).toEqual(['2026-12-02']);
      clock = MIDNIGHT + 24 * H + 2 * H;
      await start();
      expect(Object.keys(await salts())).toEqual([]);
    });

    it('a running collector deletes the previous day’s salt within a minute of 02:00', async () => {
      vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] }); // the sweep's timer; the database's own timers stay real
      try {
        clock = MIDNIGHT + 2 * H - 30_000;
        await start();
        await sendAll([pageLoad(MIDNIGHT - 5 * MIN), pageLoad(MIDNIGHT + 2 * H - 20_000)]);
        expect(Object.keys(await salts()).sort()).toEqual(['2026-12-01', '2026-12-02']);
        clock = MIDNIGHT + 2 * H - 1;
        await vi.advanceTimersByTimeAsync(60_000);
        await vi.waitFor(async () => expect(Object.keys(await salts()).sort()).toEqual(['2026-12-01', '2026-12-02']));
        clock = MIDNIGHT + 2 * H + 29_000;
        await vi.advanceTimersByTimeAsync(60_000);
        await vi.waitFor(async () => expect(Object.keys(await salts())).toEqual(['2026-12-02']));
      } finally {
        await app.close();
        vi.useRealTimers();
      }
    });

    it('a visit that ended before midnight does not go on with the previous day’s device', async () => {
      await sendAll([pageLoad(MIDNIGHT - 40 * MIN), pageLoad(MIDNIGHT - 10 * MIN, { userAgent: FIREFOX }), pageLoad(MIDNIGHT + 5 * MIN), pageLoad(MIDNIGHT + 15 * MIN, { userAgent: FIREFOX })]);
      const rows = await expectConsistent();
      const daySalts = await salts();
      const device = (day: string, ua: string) => cookielessDeviceId(Buffer.from(daySalts[day], 'hex'), 7, IP, ua);
      expect(rows.map((r) => [r.deviceId, r.pageViewsCount])).toEqual([
        [device('2026-12-01', UA), 1],
        [device('2026-12-01', FIREFOX), 2], // still open at 00:15
        [device('2026-12-02', UA), 1], // 45 minutes after 23:20
      ]);
    });

    it('two collectors on one database derive the same device (one salt a day in the database)', async () => {
      const other = await createCollector({ db, config: CONFIG, now: () => clock });
      try {
        const [a, b] = pageLoads(MIDNIGHT + 9 * H, 2);
        await send(a);
        clock = b.receivedAt;
        const response = await other.app.inject({ method: 'POST', url: '/collect', headers: { 'content-type': 'text/plain', 'user-agent': UA }, remoteAddress: IP, payload: JSON.stringify(b.body) });
        expect(response.statusCode).toBe(200);
        const devices = await db.query<{ deviceId: string }>(`SELECT DISTINCT "deviceId" FROM atomic.events`);
        expect(devices.rows).toHaveLength(1);
        expect((await db.query('SELECT 1 FROM atomic.salts')).rows).toHaveLength(1);
      } finally {
        await other.app.close();
      }
    });

    it('counts the events of a request still being written: two requests of one visitor at once near midnight', async () => {
      // 23:59:30 stored; at 00:29:00 a request is decided (open: 29.5 minutes) but not yet written; at 00:30:00 the
      // stored event is 30.5 minutes old, but the one in flight is not: the previous day's device still.
      await sendAll([{ ...pageLoad(MIDNIGHT - 30_000 - 1050), ip: IP }]);
      const devices = new CookielessDevices(db, new Salts(db, () => clock), 30 * MIN);
      const previous = (await db.query<{ deviceId: string }>(`SELECT "deviceId" FROM atomic.events LIMIT 1`)).rows[0].deviceId;
      const first = await devices.device(7, IP, UA, MIDNIGHT + 29 * MIN);
      expect(first.deviceId).toBe(previous);
      const second = await devices.device(7, IP, UA, MIDNIGHT + 30 * MIN);
      expect(second.deviceId).toBe(previous);
      first.done();
      second.done();
      // Once they are done (and here, never written), nothing holds the visit open.
      const third = await devices.device(7, IP, UA, MIDNIGHT + 30 * MIN);
      expect(third.deviceId).not.toBe(previous);
      third.done();
    });
  });
}
