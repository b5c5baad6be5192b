// @vitest-environment node
// Durability: the collector process is killed (SIGKILL) while clients keep
// sending. After a restart on the same data, every event that got a 2xx is
// stored exactly once, and atomic.session equals a batch sessionization of the
// stored events. Runs `sessionbeacon serve` as users do (after npm run build).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Batch, WireEvent } from '../src/protocol';
import { openPGlite, openPostgres, type Database } from '../src/server';
import { expectedRows, postgresAvailable, postgresBackend, sessionRows, storedEvents } from './support/databases';
import { startServe } from './support/processes.mjs';

const start = (args: string[]) => startServe(['--token', 'durable', '--quiet', ...args]);

/** A client's batches: devices with tabs, a few events each, ids unique. */
function batches(count: number): Batch[] {
  const now = Date.now();
  return Array.from({ length: count }, (_, b) => {
    const device = `dev${b % 23}`;
    const events = Array.from({ length: 1 + (b % 4) }, (_, k): WireEvent => {
      const ids = { deviceId: device, anonymousId: device, visitId: `${device}v`, sessionId: `${device}t${b % 2}`, tabId: `${device}t${b % 2}`, pageId: `${device}p${b % 5}` };
      const ts = now - 60_000 + b * 10 + k;
      return k === 0
        ? { ...ids, id: `e${b}.${k}`, ts, seq: b * 10 + k, type: 'page_view', url: `https://shop.example/${b % 5}`, title: 'Shop', navigationType: 'navigate' }
        : { ...ids, id: `e${b}.${k}`, ts, seq: b * 10 + k, type: 'track', name: 'click' };
    });
    return { v: 1, projectId: 1, sentAt: now, sdk: 'test', events };
  });
}

async function post(url: string, batch: Batch): Promise<boolean> {
  try {
    const response = await fetch(`${url}/collect`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: JSON.stringify(batch), signal: AbortSignal.timeout(5000) });
    return response.ok;
  } catch {
    return false; // the server died mid-request: not acknowledged
  }
}

const targets: { name: string; args: () => Promise<string[]>; open: () => Promise<Database>; cleanup: () => Promise<void> }[] = [];
{
  const dir = mkdtempSync(join(tmpdir(), 'sb-durable-'));
  targets.push({ name: 'PGlite', args: async () => ['--data', dir], open: () => openPGlite(dir), cleanup: async () => rmSync(dir, { recursive: true, force: true }) });
}
if (postgresAvailable()) {
  const pg = postgresBackend();
  let url = '';
  targets.push({
    name: 'PostgreSQL',
    args: async () => ['--database', (url ||= await pg.createDatabase())],
    open: () => openPostgres(url),
    cleanup: () => pg.stop(),
  });
}

describe('durability under SIGKILL', () => {
  afterAll(async () => {
    for (const t of targets) await t.cleanup();
  });

  for (const target of targets)
    it(`${target.name}: every acknowledged event is stored once, and the sessions match the stored events`, async () => {
      const all = batches(400);
      const acked = new Set<number>();
      let server = await start(await target.args());
      // Four clients send in parallel; the server is killed once about half were acknowledged.
      let next = 0;
      const client = async () => {
        while (next < all.length) {
          const i = next++;
          if (await post(server.url, all[i])) acked.add(i);
          if (acked.size >= 150 && server.child.exitCode === null && !server.child.killed) server.child.kill('SIGKILL');
        }
      };
      await Promise.all([client(), client(), client(), client()]);
      expect(server.child.killed).toBe(true);
      const ackedBeforeKill = new Set(acked);
      expect(ackedBeforeKill.size).toBeGreaterThanOrEqual(150);
      expect(ackedBeforeKill.size).toBeLessThan(all.length);

      // Restart on the same data; the clients send again what was not acknowledged, and
      // some acknowledged batches once more (a retry whose answer was lost).
      await server.exited;
      server = await start(await target.args());
      for (let i = 0; i < all.length; i++) if (!acked.has(i) && (await post(server.url, all[i]))) acked.add(i);
      for (const i of [...ackedBeforeKill].slice(0, 20)) expect(await post(server.url, all[i])).toBe(true);
      expect(acked.size).toBe(all.length);
      await server.stop();

      const db = await target.open();
      try {
        const stored = await storedEvents(db);
        const ids = stored.map((e) => e.event.id);
        expect(new Set(ids).size).toBe(ids.length);
        expect(ids.sort()).toEqual(all.flatMap((b) => b.events.map((e) => e.id)).sort());
        expect(await sessionRows(db)).toEqual(expectedRows(stored));
      } finally {
        await db.close();
      }
    }, 120_000);
});
