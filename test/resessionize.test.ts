// @vitest-environment node
// `sessionbeacon resessionize` (src/server/offline/resessionize.ts): atomic.session rebuilt
// from atomic.events equals what the live collector wrote, on PGlite and on PostgreSQL;
// a rule change rebuilds with the new rule; a collector running meanwhile goes on right.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import type { WireEvent } from '../src/protocol';
import { createCollector, hashToken, migrate, openPGlite, openPostgres, parseConfig, type Database, type ReceivedRequest } from '../src/server';
import { resessionize } from '../src/server/offline/resessionize';
import { sessionizeDevice } from '../src/server/sessionizer/device';
import { geoHeadersOf } from '../src/server/collector/headers';
import type { SessionRow } from '../src/server/sessionizer/row';
import type { SessionizeOptions } from '../src/server/sessionizer/device';
import { postgresAvailable, postgresBackend, sessionRows, storedEvents } from './support/databases';
import { pageLoad } from './cookieless.helpers';
import { ev, MIN, req, T0, UA } from './sessionizer.helpers';
import { CLI } from './support/processes.mjs';

const RAW = {
  projects: [
    { id: 7, name: 'shop', origins: ['*'], readTokens: [hashToken('t7')] },
    { id: 8, name: 'blog', origins: ['*'], readTokens: [hashToken('t8')], fullIp: true },
  ],
  inactivity: 20 * MIN,
  geoHeaders: 'cloudflare',
};
const CONFIG = parseConfig(RAW);
/** The collector's rules under CONFIG (it stores IPs cut already: fullIp from there on). */
const RULES: SessionizeOptions = { inactivity: 20 * MIN, geoHeaders: geoHeadersOf(CONFIG.geoHeaders), fullIp: true };
const temporary = mkdtempSync(join(tmpdir(), 'sb-resessionize-'));
const configFile = join(temporary, 'config.json');
writeFileSync(configFile, JSON.stringify(RAW));
const pg = postgresAvailable() ? postgresBackend() : undefined;
afterAll(async () => {
  await pg?.stop();
  rmSync(temporary, { recursive: true, force: true });
});

/** A day of traffic of 12 devices in two projects: visits cut at 20 minutes, late batches, retries, geo headers, a cookieless page load. */
function traffic(): ReceivedRequest[] {
  const out: ReceivedRequest[] = [];
  for (let d = 0; d < 12; d++) {
    const projectId = d % 3 ? 7 : 8;
    const ids = { deviceId: `dev-${d}`, anonymousId: `anon-${d}`, visitId: `v-${d}`, sessionId: `s-${d}`, tabId: `tab-${d}`, pageId: `page-${d}` };
    let at = T0 + d * 1000;
    for (let k = 0; k < 6; k++) {
      // Gaps of 12, 15, 25, 8 and 18 minutes: one visit cut at 20 minutes of inactivity, four at 10.
      at += [0, 12, 15, 25, 8, 18][k] * MIN;
      const events = [ev(at, { ...ids, type: 'page_view', url: `https://shop.example/${k}?utm_source=n${k % 2}`, title: 'P', navigationType: 'navigate' } as Partial<WireEvent>), ev(at + 2000, { ...ids, type: 'page_leave', activeTime: 1500 } as Partial<WireEvent>)];
      // Every third batch is flushed an hour late, by its own clock.
      const request = req(events, { projectId, sentAt: at + 2000 + (k % 3 === 2 ? 60 * MIN : 0), headers: { 'cf-ipcountry': 'FR' }, ip: `198.51.100.${d}` });
      out.push(request);
      if (k === 4) out.push({ ...request, receivedAt: request.receivedAt + 5000 });
    }
  }
  out.push(pageLoad(T0 + 3 * MIN));
  return out.sort((a, b) => a.receivedAt - b.receivedAt);
}

const backends: { name: string; open(): Promise<{ db: Database; args: string[]; reopen(): Promise<Database> }> }[] = [
  {
    name: 'pglite',
    async open() {
      const dir = mkdtempSync(join(temporary, 'pglite-'));
      const db = await openPGlite(dir);
      await migrate(db);
      return { db, args: ['--data', dir], reopen: () => openPGlite(dir) };
    },
  },
  ...(pg
    ? [
        {
          name: 'postgres',
          async open() {
            const url = await pg.createDatabase();
            const db = await openPostgres(url);
            await migrate(db);
            return { db, args: ['--database', url], reopen: () => openPostgres(url) };
          },
        },
      ]
    : []),
];

/** A batch run over stored events, in the order sessionRows() gives. */
function batchRun(stored: Awaited<ReturnType<typeof storedEvents>>, rules: SessionizeOptions): SessionRow[] {
  const devices = new Map<string, typeof stored>();
  for (const e of stored) devices.get(`${e.projectId}/${e.event.deviceId}`)?.push(e) ?? devices.set(`${e.projectId}/${e.event.deviceId}`, [e]);
  const key = (r: SessionRow) => `${r.projectId}\u0000${r.sessionStart}\u0000${r.sessionId}\u0000${r.deviceId}`;
  return [...devices.values()].flatMap((list) => sessionizeDevice(list, rules).rows).sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

function command(args: string[]): Promise<{ code: number; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, 'resessionize', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    child.on('close', (code) => resolve({ code: code ?? -1, err }));
  });
}

for (const backend of backends) {
  describe(`resessionize on ${backend.name}`, () => {
    it('rebuilds damaged rows as the collector wrote them; a rule change rebuilds by the new rule; the collector goes on right', async () => {
      let { db, args, reopen } = await backend.open();
      let clock = T0;
      let app: FastifyInstance | undefined;
      const start = async () => ({ app } = await createCollector({ db, config: CONFIG, now: () => clock }));
      const send = async (r: ReceivedRequest) => {
        clock = r.receivedAt;
        const response = await app!.inject({
          method: 'POST',
          url: '/collect',
          headers: { 'content-type': 'text/plain;charset=UTF-8', 'user-agent': r.userAgent ?? UA, ...r.headers },
          remoteAddress: r.ip,
          payload: JSON.stringify(r.body),
        });
        expect(response.statusCode).toBe(200);
      };
      try {
        await start();
        for (const r of traffic()) await send(r);
        const live = await sessionRows(db);
        expect(live.length).toBe(25); // two visits per device, and the cookieless one
        expect(live).toEqual(batchRun(await storedEvents(db), RULES));
        expect(live.some((r) => r.countryCode === 'FR')).toBe(true);
        expect(live.some((r) => r.tags?.includes('cookieless'))).toBe(true);

        // Damage: rows deleted, a column changed, a row of no device's events.
        await db.exec(`DELETE FROM atomic.session WHERE "deviceId" IN ('dev-1', 'dev-6')`);
        await db.exec(`UPDATE atomic.session SET "pageViewsCount" = 99, "visitId" = 'wrong' WHERE "deviceId" = 'dev-2'`);
        await db.exec(`INSERT INTO atomic.session ("projectId", "sessionId", "sessionStart", "sessionEnd", "deviceId", "duration", "isBot", "userActionsCount", "pageViewsCount")
                       VALUES (7, 'orphan', now(), now(), 'nobody', 0, false, 0, 0)`);
        const progress: string[] = [];
        const summary = await resessionize(db, { ...RULES, batch: 3, progress: (l) => progress.push(l) });
        expect(await sessionRows(db)).toEqual(live);
        expect(summary).toMatchObject({ projects: 2, devices: 13, orphans: 1, rows: live.length });
        // One transaction per batch of 3 devices, each reported: project 7 has 8 devices and the cookieless one, project 8 has 4.
        expect(progress.filter((l) => l.startsWith('project 7:'))).toHaveLength(3);
        expect(progress.at(-1)).toMatch(/^project 8: 4\/4 devices, \d+ events, \d+ rows/);

        // A rule change: visits cut at 10 minutes. Then the collector's rule again.
        await resessionize(db, { ...RULES, inactivity: 10 * MIN });
        const tenMinutes = batchRun(await storedEvents(db), { ...RULES, inactivity: 10 * MIN });
        expect(await sessionRows(db)).toEqual(tenMinutes);
        expect(tenMinutes.length).toBeGreaterThan(live.length);

        // The command, with the collector's config: PGlite is one process, so the collector closes first.
        if (backend.name === 'pglite') {
          await app!.close();
          await db.close();
        }
        const run = await command([...args, '--config', configFile, '--batch', '4']);
        expect(run).toMatchObject({ code: 0 });
        expect(run.err).toMatch(/resessionize: project 7: 9\/9 devices/);
        expect(run.err).toMatch(/resessionize: 2 projects, 13 devices, \d+ events, \d+ session rows written, 0 rows without events deleted/);
        if (backend.name === 'pglite') {
          db = await reopen();
          await start();
        }
        expect(await sessionRows(db)).toEqual(live);

        // The collector (on PostgreSQL, running all along) finds the devices' versions bumped and reads them again.
        clock = T0 + 8 * 60 * MIN;
        await send(req([ev(T0 + 3 * 60 * MIN + 5 * MIN, { deviceId: 'dev-2', anonymousId: 'anon-2', visitId: 'v-2', sessionId: 's-2', tabId: 'tab-2', pageId: 'page-2' })], { projectId: 7 }));
        const after = await sessionRows(db);
        expect(after).toEqual(batchRun(await storedEvents(db), RULES));
        expect(after).not.toEqual(live);
      } finally {
        await app?.close();
        await db.close().catch(() => {});
      }
    }, 120_000);
  });
}
