// @vitest-environment node
// Two `sessionbeacon serve --database` processes (the built command, after npm run
// build) on one PostgreSQL share the day's salt (atomic.salts): a cookieless
// visitor whose requests go to either, the first ones to both at once, is one
// device, and the session rows equal a batch run over the stored events.
import { afterAll, describe, expect, it } from 'vitest';
import { openPostgres, type Database } from '../src/server';
import { cookielessDeviceId, utcDay } from '../src/server/sessionizer/cookieless';
import { FIREFOX } from './cookieless.helpers';
import { expectedRows, postgresAvailable, postgresBackend, sessionRows, storedEvents } from './support/databases';
import { startServe, type Served } from './support/processes.mjs';
import { UA } from './sessionizer.helpers';

let loads = 0;
/** A cookieless page load of project 1, sent now. */
function pageLoad() {
  const n = ++loads;
  const now = Date.now();
  return {
    v: 1,
    projectId: 1,
    sentAt: now,
    cookieless: true,
    tabId: `fleet-tab-${n}`,
    pageId: `fleet-page-${n}`,
    events: [{ id: `fleet-view-${n}`, type: 'page_view', ts: now, seq: 0, url: `https://shop.example/${n}`, title: 'Shop', navigationType: 'navigate' }],
  };
}

async function post(server: Served, userAgent = UA): Promise<void> {
  const response = await fetch(`${server.url}/collect`, { method: 'POST', headers: { 'content-type': 'text/plain', 'user-agent': userAgent }, body: JSON.stringify(pageLoad()) });
  expect(response.status, await response.text()).toBe(200);
}

describe.runIf(postgresAvailable() || process.env.CI)('cookieless devices across collector processes', () => {
  const pg = postgresBackend();
  const servers: Served[] = [];
  let db: Database | undefined;
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    await db?.close();
    await pg.stop();
  });

  it('two serve processes on one PostgreSQL share the salt: one visitor is one device whichever answers', async () => {
    const url = await pg.createDatabase();
    // Started together: both migrate (one waits for the other's lock), neither has a salt yet.
    servers.push(...(await Promise.all([1, 2].map(() => startServe(['--database', url, '--token', 'fleet', '--quiet'])))));
    const [a, b] = servers;
    const firstDay = utcDay(Date.now());
    // The first requests go to both at once: each process makes the day's salt at the same moment.
    await Promise.all(Array.from({ length: 8 }, (_, i) => post(i % 2 ? a : b)));
    for (let i = 0; i < 6; i++) await post(i % 2 ? a : b);
    await Promise.all([post(a, FIREFOX), post(b, FIREFOX)]);
    const lastDay = utcDay(Date.now());

    db = await openPostgres(url);
    const salts = (await db.query<{ day: string; salt: string }>(`SELECT to_char("day", 'YYYY-MM-DD') AS "day", encode("salt", 'hex') AS "salt" FROM atomic.salts ORDER BY "day"`)).rows;
    const events = (await db.query<{ deviceId: string; userAgent: string; ip: boolean }>(`SELECT "deviceId", "request"->>'userAgent' AS "userAgent", "request" ? 'ip' AS "ip" FROM atomic.events`)).rows;
    expect(events).toHaveLength(16);
    expect(events.some((e) => e.ip)).toBe(false);
    // Two writers on one database (issue 12): the rows are those of a batch run, one visit per User-Agent.
    const rows = await sessionRows(db);
    expect(rows).toEqual(expectedRows(await storedEvents(db)));
    if (firstDay === lastDay) {
      expect(rows.map((r) => r.pageViewsCount).sort((x, y) => x - y)).toEqual([2, 14]);
      expect(rows.every((r) => r.tags?.includes('cookieless'))).toBe(true);
    }
    // Run across midnight UTC, the visitor may have had the next day's device too.
    if (firstDay !== lastDay) return;
    expect(salts.map((s) => s.day)).toEqual([firstDay]);
    const salt = Buffer.from(salts[0].salt, 'hex');
    expect(new Set(events.filter((e) => e.userAgent === UA).map((e) => e.deviceId))).toEqual(new Set([cookielessDeviceId(salt, 1, '127.0.0.1', UA)]));
    expect(new Set(events.filter((e) => e.userAgent === FIREFOX).map((e) => e.deviceId))).toEqual(new Set([cookielessDeviceId(salt, 1, '127.0.0.1', FIREFOX)]));
  }, 120_000);
});
