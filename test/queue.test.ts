import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createQueue, QUEUE_LEASE, QUEUE_PREFIX } from '../src/client/queue';
import type { WireEvent } from '../src/protocol';
import { memoryAsyncArea, serialLocks } from './helpers';

const T0 = Date.UTC(2026, 10, 22, 12);
const event = (i: number, extra = ''): WireEvent => ({
  id: `e${i}`, type: 'track', ts: T0 + i, seq: i, name: 'x' + extra,
  deviceId: 'd', anonymousId: 'a', visitId: 'v', sessionId: 's', tabId: 't', pageId: 'p',
});
const stored = (idb: ReturnType<typeof memoryAsyncArea>, id: string) => JSON.parse(idb.map.get(QUEUE_PREFIX + id) ?? 'null');

describe('persisted queue', () => {
  beforeEach(() => vi.useFakeTimers({ now: T0 }));
  afterEach(() => vi.useRealTimers());

  it('keeps unsent events in IndexedDB, written once per tick however many arrive', async () => {
    const idb = memoryAsyncArea();
    const setSpy = vi.spyOn(idb, 'set');
    const q = createQueue(idb, 'page1', () => Date.now(), serialLocks());
    for (let i = 0; i < 20; i++) q.add(event(i));
    await vi.advanceTimersByTimeAsync(0);
    expect(setSpy).toHaveBeenCalledTimes(1);
    expect(stored(idb, 'page1').events.map((e: WireEvent) => e.id)).toEqual(q.events.map((e) => e.id));
    q.remove(new Set(q.events.map((e) => e.id)));
    await vi.advanceTimersByTimeAsync(0);
    expect(idb.map.has(QUEUE_PREFIX + 'page1')).toBe(false); // an empty queue leaves no record
  });

  it('is bounded in count and bytes, dropping the oldest and counting them', () => {
    const q = createQueue(memoryAsyncArea(), 'p', () => Date.now(), undefined, undefined, { maxEvents: 5, maxBytes: 1e9, maxAge: 1e9 });
    for (let i = 0; i < 8; i++) q.add(event(i));
    expect(q.events.map((e) => e.id)).toEqual(['e3', 'e4', 'e5', 'e6', 'e7']);
    expect(q.dropped).toBe(3);
    const small = createQueue(memoryAsyncArea(), 'p2', () => Date.now(), undefined, undefined, { maxEvents: 100, maxBytes: 1000, maxAge: 1e9 });
    for (let i = 0; i < 10; i++) small.add(event(i, 'y'.repeat(300)));
    expect(small.events.length).toBeLessThan(10);
    expect(small.events.at(-1)!.id).toBe('e9');
    expect(small.dropped).toBe(10 - small.events.length);
  });

  it('drops events older than maxAge, counting them', () => {
    const q = createQueue(memoryAsyncArea(), 'p', () => Date.now(), undefined, undefined, { maxEvents: 100, maxBytes: 1e9, maxAge: 1000 });
    q.add(event(0));
    q.add(event(900));
    q.expire(T0 + 1500);
    expect(q.events.map((e) => e.id)).toEqual(['e900']);
    expect(q.dropped).toBe(1);
  });

  it("adopts the queue of a page that is gone (its lock was released), once, and deletes it", async () => {
    const idb = memoryAsyncArea();
    const locks = serialLocks();
    const gone = createQueue(idb, 'gone', () => Date.now(), locks);
    gone.add(event(1));
    gone.add(event(2));
    await vi.advanceTimersByTimeAsync(0);
    expect(locks.held.has('sessionbeacon:q:gone')).toBe(true);
    locks.held.delete('sessionbeacon:q:gone'); // the tab closed: the browser releases its locks
    const next = createQueue(idb, 'next', () => Date.now(), locks);
    const other = createQueue(idb, 'other', () => Date.now(), locks);
    const [a, b] = await Promise.all([next.adoptOrphans(), other.adoptOrphans()]);
    expect(a + b).toBe(2); // one page took them, not both
    expect([...next.events, ...other.events].map((e) => e.id).sort()).toEqual(['e1', 'e2']);
    expect(idb.map.has(QUEUE_PREFIX + 'gone')).toBe(false);
  });

  it('a page hidden into the back/forward cache lets go of its queue; restored, it keeps only what nobody adopted', async () => {
    const idb = memoryAsyncArea();
    const locks = serialLocks();
    const cached = createQueue(idb, 'cached', () => Date.now(), locks);
    cached.add(event(1));
    await vi.advanceTimersByTimeAsync(0);
    cached.release(); // pagehide
    await vi.advanceTimersByTimeAsync(0);
    expect(locks.held.has('sessionbeacon:q:cached')).toBe(false);
    const next = createQueue(idb, 'next', () => Date.now(), locks);
    expect(await next.adoptOrphans()).toBe(1);
    cached.reclaim(); // pageshow persisted
    await vi.advanceTimersByTimeAsync(0);
    expect(cached.events).toHaveLength(0); // the adopter owns them now: never sent by both
    expect(locks.held.has('sessionbeacon:q:cached')).toBe(true);

    const kept = createQueue(idb, 'kept', () => Date.now(), locks);
    kept.add(event(2));
    await vi.advanceTimersByTimeAsync(0);
    kept.release();
    kept.reclaim(); // back before anyone adopted it
    await vi.advanceTimersByTimeAsync(0);
    expect(kept.events.map((e) => e.id)).toEqual(['e2']);
    expect(await createQueue(idb, 'late', () => Date.now(), locks).adoptOrphans()).toBe(0);
  });

  it('a page whose events were never stored (consent pending) keeps them through the back/forward cache', async () => {
    const idb = memoryAsyncArea();
    const held = { ...idb, set: () => Promise.resolve() }; // storing not allowed: writes are no-ops
    const locks = serialLocks();
    const q = createQueue(held, 'pending', () => Date.now(), locks, () => false);
    q.add(event(1));
    await vi.advanceTimersByTimeAsync(0);
    q.release();
    q.reclaim();
    await vi.advanceTimersByTimeAsync(0);
    expect(q.events.map((e) => e.id)).toEqual(['e1']);
  });

  it('leaves alone the queue of a page that is alive', async () => {
    const idb = memoryAsyncArea();
    const locks = serialLocks();
    const alive = createQueue(idb, 'alive', () => Date.now(), locks);
    alive.add(event(1));
    await vi.advanceTimersByTimeAsync(0);
    const next = createQueue(idb, 'next', () => Date.now(), locks);
    expect(await next.adoptOrphans()).toBe(0);
    expect(idb.map.has(QUEUE_PREFIX + 'alive')).toBe(true);
  });

  it('without Web Locks, adopts a queue only after its lease expired', async () => {
    const idb = memoryAsyncArea();
    const old = createQueue(idb, 'old', () => Date.now());
    old.add(event(1));
    await vi.advanceTimersByTimeAsync(0);
    const next = createQueue(idb, 'next', () => Date.now());
    expect(await next.adoptOrphans()).toBe(0);
    vi.setSystemTime(T0 + QUEUE_LEASE + 1);
    const later = createQueue(idb, 'later', () => T0 + QUEUE_LEASE + 1);
    // The old page renews its lease while it lives: stop it as if the tab closed.
    idb.map.set(QUEUE_PREFIX + 'old', JSON.stringify({ lease: T0 + QUEUE_LEASE, events: [event(1)] }));
    expect(await later.adoptOrphans()).toBe(1);
  });

  it('works in memory when IndexedDB fails', async () => {
    const fail = () => Promise.reject(new Error('no IndexedDB'));
    const q = createQueue({ get: fail, set: fail, del: fail, keys: fail }, 'p', () => Date.now());
    q.add(event(1));
    await vi.advanceTimersByTimeAsync(0);
    expect(await q.adoptOrphans()).toBe(0);
    expect(q.events).toHaveLength(1);
  });

  it('never deletes an orphan whose record IndexedDB did not give back in time', async () => {
    const idb = memoryAsyncArea();
    idb.map.set(QUEUE_PREFIX + 'orphan', JSON.stringify({ lease: 0, events: [event(1)] }));
    const slow = { ...idb, get: async () => undefined }; // no answer within the wait
    const q = createQueue(slow, 'p', () => Date.now(), serialLocks());
    expect(await q.adoptOrphans()).toBe(0);
    expect(idb.map.has(QUEUE_PREFIX + 'orphan')).toBe(true);
    expect(await createQueue(idb, 'later', () => Date.now(), serialLocks()).adoptOrphans()).toBe(1);
  });

  it('ignores records that are not queues of ours', async () => {
    const idb = memoryAsyncArea();
    idb.map.set(QUEUE_PREFIX + 'junk', '{not json');
    idb.map.set('sb_id', 'a:b:');
    const q = createQueue(idb, 'p', () => Date.now(), serialLocks());
    expect(await q.adoptOrphans()).toBe(0);
    expect(idb.map.has(QUEUE_PREFIX + 'junk')).toBe(false);
    expect(idb.map.has('sb_id')).toBe(true);
  });
});
