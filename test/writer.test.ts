// @vitest-environment node
// The writer as one member of a fleet: several writers (each with its own engine
// memory, as several `serve` processes have) on one database, against PGlite and
// a real PostgreSQL. Whatever writer each request goes to, in whatever order, at
// the same time, with whatever memory cap, atomic.session equals a batch run over
// atomic.events. Also: the copy kept of a duplicated event, the memory cap, idle
// devices forgotten on time, and the bounded write queue.
import fc from 'fast-check';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { WireEvent } from '../src/protocol';
import { migrate, openPostgres, sessionize, storedEvents as eventsOf, type Database, type ReceivedRequest } from '../src/server';
import { IDLE_IN_TRANSACTION_MS } from '../src/server/collector/database';
import { Overloaded, Writer, type WriterOptions } from '../src/server/collector/writer';
import { backends, expectedRows, postgresBackend, sessionRows, storedEvents } from './support/databases';
import { random, shuffled } from './support/random';
import { ev, MIN, req, T0 } from './sessionizer.helpers';

const HOUR = 60 * MIN;

for (const backend of backends()) {
  describe(`writers sharing one ${backend.name} database`, () => {
    let db: Database;
    let url = '';
    const writers: Writer[] = [];
    const writer = (options: WriterOptions = {}) => {
      const w = new Writer(db, { fullIp: true, ...options });
      writers.push(w);
      return w;
    };
    const write = (w: Writer, r: ReceivedRequest) => w.write(eventsOf(r));
    const expectExact = async () => expect(await sessionRows(db)).toEqual(expectedRows(await storedEvents(db)));

    beforeAll(async () => {
      if (backend.name === 'postgres') {
        url = await (backend as ReturnType<typeof postgresBackend>).createDatabase();
        db = await openPostgres(url);
        await migrate(db);
      } else db = await backend.open();
    }, 60_000);
    afterAll(async () => {
      for (const w of writers) await w.close();
      await db?.close();
      await backend.stop();
    });
    beforeEach(async () => {
      for (const w of writers.splice(0)) await w.close();
      await db.exec('TRUNCATE atomic.events, atomic.session, atomic.devices');
    });

    it("reads what another writer stored for a device before writing it: a late event bridging two visits merges them", async () => {
      const a = writer();
      const b = writer();
      const tab = { deviceId: 'd1', anonymousId: 'a1' };
      await write(a, req([ev(T0, { ...tab, visitId: 'v1', type: 'page_view', url: 'https://a.example/', title: 'A', navigationType: 'navigate' } as Partial<WireEvent>)]));
      // Another process stores a second visit 40 minutes later...
      await write(b, req([ev(T0 + 40 * MIN, { ...tab, visitId: 'v2', sessionId: 'cs2' })]));
      expect(await sessionRows(db)).toHaveLength(2);
      // ...and the first gets an event from in between: its memory is behind, and it reads what it lacks.
      await write(a, req([ev(T0 + 20 * MIN, { ...tab, visitId: 'v1' })], { sentAt: T0 + 41 * MIN }));
      const rows = await sessionRows(db);
      expect(rows.map((r) => [r.visitId, r.sessionStart])).toEqual([['v1', new Date(T0 + 50).toISOString()]]);
      await expectExact();
      expect(a.stats.devices).toMatchObject({ caughtUp: 1 });
      // Its memory is now current: the next write reads nothing.
      await write(a, req([ev(T0 + 42 * MIN, tab)]));
      expect(a.stats.devices).toMatchObject({ caughtUp: 1, current: 1 });
      await expectExact();
    });

    it('any request to any writer, in any order, at the same time, with retries to two writers at once and any memory cap: rows == batch', async () => {
      const step = fc.record({
        gap: fc.oneof(fc.constantFrom(0, 1, 30 * MIN - 1, 30 * MIN, 2 * HOUR), fc.integer({ min: 0, max: 45 * MIN })),
        type: fc.constantFrom('page_view', 'track', 'page_ping', 'page_leave', 'identify'),
        tab: fc.nat(2),
        batch: fc.nat(3),
      });
      const workload = fc.record({
        devices: fc.array(fc.array(step, { minLength: 1, maxLength: 10 }), { minLength: 1, maxLength: 4 }),
        writers: fc.integer({ min: 1, max: 3 }),
        cacheBytes: fc.constantFrom(0, 8_000, 1e9),
        // Requests in flight at once: one at a time (every writer's memory falls behind), a few, or all.
        inFlight: fc.constantFrom(1, 3, 1000),
        seed: fc.integer(),
      });
      await fc.assert(
        fc.asyncProperty(workload, async (w) => {
          await db.exec('TRUNCATE atomic.events, atomic.session, atomic.devices');
          const rand = random(w.seed);
          const fleet = Array.from({ length: w.writers }, () => writer({ cacheBytes: w.cacheBytes }));
          const requests: ReceivedRequest[] = [];
          w.devices.forEach((steps, d) => {
            let ts = T0;
            const batches = new Map<number, WireEvent[]>();
            steps.forEach((st, k) => {
              ts += st.gap;
              const ids = { deviceId: `d${d}`, anonymousId: `a${d}`, visitId: `v${d}.${Math.floor(ts / HOUR)}`, sessionId: `s${d}.${st.tab}`, tabId: `t${d}.${st.tab}`, pageId: `p${d}.${st.tab}.${k >> 1}` };
              const event =
                st.type === 'page_view' ? ev(ts, { ...ids, type: 'page_view', url: `https://a.example/${k}`, title: `T${k}`, navigationType: 'navigate' } as Partial<WireEvent>)
                : st.type === 'identify' ? ev(ts, { ...ids, type: 'identify', identityId: `user${d}` } as Partial<WireEvent>)
                : st.type === 'track' ? ev(ts, ids)
                : ev(ts, { ...ids, type: st.type, activeTime: k * 1000 } as Partial<WireEvent>);
              batches.set(st.batch, [...(batches.get(st.batch) ?? []), event]);
            });
            for (const events of batches.values()) requests.push(req(events, { sentAt: Math.max(...events.map((e) => e.ts)) + 1000 }));
          });
          // Requests overtake each other; a third of them are retried, at once, to another writer.
          const queue = shuffled(requests, rand);
          const sender = async () => {
            for (let r = queue.shift(); r; r = queue.shift()) {
              const sends = [write(fleet[Math.floor(rand() * fleet.length)], r)];
              if (rand() < 0.33) sends.push(write(fleet[Math.floor(rand() * fleet.length)], { ...r, receivedAt: r.receivedAt + 3 }));
              const results = await Promise.all(sends);
              expect(results.reduce((n, x) => n + x.accepted, 0)).toBe(r.body.events.length);
            }
          };
          await Promise.all(Array.from({ length: w.inFlight }, sender));
          const stored = await storedEvents(db);
          expect(stored.length).toBe(requests.reduce((n, r) => n + r.body.events.length, 0));
          expect(await sessionRows(db)).toEqual(expectedRows(stored));
          for (const f of fleet) expect(f.stats.heldBytes).toBeLessThanOrEqual(w.cacheBytes);
        }),
        { numRuns: backend.name === 'pglite' ? 25 : 40 },
      );
    }, 300_000);

    it('keeps the copy `sessionize` keeps when one request holds two differing copies of an event', async () => {
      const view = ev(T0, { type: 'page_view', url: 'https://a.example/b', title: 'B', navigationType: 'navigate' } as Partial<WireEvent>);
      // The same id with another title: of the two, `sessionize` keeps the smaller by content (request.ts, preferredCopy).
      const copy = { ...view, title: 'A' } as WireEvent;
      const request = req([view, copy, ev(T0 + 1000)]);
      const result = await write(writer(), request);
      expect(result).toEqual({ accepted: 2, duplicates: 1 });
      const stored = await storedEvents(db);
      expect(stored.find((e) => e.event.id === view.id)?.event).toMatchObject({ title: 'A' });
      const rows = await sessionRows(db);
      expect(rows).toHaveLength(1);
      expect(rows[0].initTitle).toBe('A');
      expect(rows).toEqual(expectedRows(stored));
      // The same rule over two requests of one group: written at once, so they share a transaction.
      await db.exec('TRUNCATE atomic.events, atomic.session, atomic.devices');
      const w = writer();
      const later = req([{ ...copy, title: 'C' } as WireEvent], { delay: 500 });
      const earlier = req([view], { delay: 200 });
      // The first request keeps the writer busy, so that the next two wait and go in one group.
      await Promise.all([write(w, req([ev(T0 + 2000)])), write(w, later), write(w, earlier)]);
      const [row] = sessionize([later, earlier]);
      expect((await sessionRows(db))[0].initTitle).toBe(row.initTitle);
      expect(row.initTitle).toBe('B'); // received first
    });

    it('holds at most cacheBytes in memory (as estimated), forgetting the least recently written devices, with the same rows', async () => {
      const w = writer({ cacheBytes: 20_000 });
      let maxHeld = 0;
      let maxDevices = 0;
      for (let round = 0; round < 3; round++)
        for (let d = 0; d < 60; d++) {
          const at = T0 + round * 10 * MIN + d * 1000;
          const result = await write(w, req([ev(at, { deviceId: `dev${d}`, tabId: `t${round % 2}` }), ev(at + 10, { deviceId: `dev${d}`, tabId: `t${round % 2}` })]));
          expect(result.accepted).toBe(2);
          maxHeld = Math.max(maxHeld, w.stats.heldBytes);
          maxDevices = Math.max(maxDevices, w.stats.openDevices);
        }
      expect(maxHeld).toBeLessThanOrEqual(20_000);
      expect(maxDevices).toBeLessThan(10);
      expect(w.stats.evicted).toBeGreaterThan(100);
      // Every device came back after it was forgotten, and was read whole from the database.
      expect(w.stats.devices.loaded).toBe(180);
      await expectExact();
      expect(await sessionRows(db)).toHaveLength(60 * 2); // two tabs each; rounds 0 and 2 share a session
    }, 60_000);

    it('forgets devices idle past the horizon on time, while no traffic comes', async () => {
      vi.useFakeTimers({ toFake: ['setInterval'] });
      try {
        let clock = T0;
        const w = writer({ horizon: 10 * MIN, now: () => clock });
        for (let d = 0; d < 5; d++) await write(w, req([ev(T0, { deviceId: `dev${d}`, sessionId: `s${d}` })], { delay: 0 }));
        expect(w.stats.openDevices).toBe(5);
        clock += 5 * MIN;
        vi.advanceTimersByTime(60_000);
        expect(w.stats.openDevices).toBe(5);
        clock += 6 * MIN;
        vi.advanceTimersByTime(60_000);
        expect(w.stats).toMatchObject({ openDevices: 0, heldEvents: 0, heldBytes: 0 });
        // A device that comes back is read from the database: the same rows.
        await write(w, req([ev(T0 + 12 * MIN, { deviceId: 'dev0', sessionId: 's0' })], { delay: 0 }));
        expect(w.stats.devices.loaded).toBe(6);
        await expectExact();
      } finally {
        vi.useRealTimers();
      }
    });

    it.skipIf(backend.name !== 'postgres')(
      'a writer that hangs holding a device (a process frozen mid-write) holds it at most IDLE_IN_TRANSACTION_MS: then the others go on',
      async () => {
        const frozen = await openPostgres(url);
        let release = () => {};
        // It claims d1 and then does nothing more, its connection open: as a frozen process would.
        const hung = frozen.transaction(async (tx) => {
          await tx.query(`SELECT * FROM atomic.claim_devices($1::jsonb)`, [JSON.stringify([{ projectId: 1, deviceId: 'd1', held: -1 }])]);
          await new Promise<void>((r) => (release = r));
        });
        const outcome = hung.then(() => 'committed', (e: Error) => e.message);
        await new Promise((r) => setTimeout(r, 200));
        const started = Date.now();
        const result = await write(writer(), req([ev(T0, { deviceId: 'd1' })]));
        const waited = Date.now() - started;
        expect(result.accepted).toBe(1);
        expect(waited).toBeGreaterThan(IDLE_IN_TRANSACTION_MS - 1000);
        release();
        expect(await outcome).toMatch(/idle-in-transaction|terminat|Connection/i);
        await frozen.close().catch(() => {});
        await expectExact();
      },
      60_000,
    );

    it('answers Overloaded (503) past queueEvents waiting, and stores every request it took', async () => {
      const w = writer({ queueEvents: 30 });
      const sent = Array.from({ length: 40 }, (_, i) => req([ev(T0 + i * 1000, { deviceId: `q${i % 7}` }), ev(T0 + i * 1000 + 1, { deviceId: `q${i % 7}` })]));
      const results = await Promise.allSettled(sent.map((r) => write(w, r)));
      const refused = results.filter((r) => r.status === 'rejected');
      expect(refused.length).toBeGreaterThan(0);
      for (const r of refused) expect((r as PromiseRejectedResult).reason).toBeInstanceOf(Overloaded);
      expect((refused[0] as PromiseRejectedResult).reason.statusCode).toBe(503);
      const taken = sent.filter((_, i) => results[i].status === 'fulfilled');
      const ids = (await storedEvents(db)).map((e) => e.event.id).sort();
      expect(ids).toEqual(taken.flatMap((r) => r.body.events.map((e) => e.id)).sort());
      await expectExact();
    });
  });
}
